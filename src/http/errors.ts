import type { FastifyError, FastifyInstance } from 'fastify'
import { Errors, RelayHttpError, type ErrorCode } from '../errors.js'

/** Fastify's own failures, in the relay's table. */
const fastifyCodes: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'MEDIA_TYPE',
  FST_ERR_CTP_INVALID_TYPE: 'MEDIA_TYPE',
  FST_ERR_CTP_BODY_TOO_LARGE: 'BODY_TOO_LARGE',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'BODY_EMPTY',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'BODY_INVALID',
  FST_ERR_CTP_INVALID_JSON_BODY: 'BODY_NOT_JSON'
}

function classify(error: FastifyError | RelayHttpError, bodyLimit: number): { code: ErrorCode; msg: string } {
  if (error instanceof RelayHttpError) return { code: error.code, msg: error.message }
  const mapped = error.code ? fastifyCodes[error.code] : undefined
  if (mapped === 'BODY_TOO_LARGE')
    return { code: mapped, msg: `the body is larger than the limit of ${bodyLimit} bytes (server.bodyLimit)` }
  if (mapped) return { code: mapped, msg: Errors[mapped].message }
  if (error.name === 'SyntaxError' || (error.statusCode === 400 && /JSON|Unexpected|proto/i.test(error.message))) {
    return { code: 'BODY_NOT_JSON', msg: `${Errors.BODY_NOT_JSON.message}` }
  }
  if (error.statusCode === 413)
    return { code: 'BODY_TOO_LARGE', msg: `the body is larger than the limit of ${bodyLimit} bytes (server.bodyLimit)` }
  if (error.statusCode === 415) return { code: 'MEDIA_TYPE', msg: Errors.MEDIA_TYPE.message }
  return { code: 'INTERNAL', msg: Errors.INTERNAL.message }
}

/** Every answer that is not a success is `{"code": <status>, "msg": "..."}`, never a stack trace or a page. */
export function useErrorEnvelope(app: FastifyInstance, bodyLimit: number): void {
  app.setErrorHandler((error: FastifyError | RelayHttpError, request, reply) => {
    const { code, msg } = classify(error, bodyLimit)
    const status = Errors[code].status
    if (status >= 500) request.log.error({ err: error, errorCode: code }, 'request failed')
    else request.log.info({ errorCode: code, reason: msg }, 'request refused')
    void reply.code(status).header('x-relay-error', code).send({ code: status, msg })
  })
  app.setNotFoundHandler((request, reply) => {
    void reply
      .code(404)
      .header('x-relay-error', 'ROUTE_NOT_FOUND')
      .send({
        code: 404,
        msg: `${Errors.ROUTE_NOT_FOUND.message} (got ${request.method} ${request.url.split('?')[0]})`
      })
  })
}
