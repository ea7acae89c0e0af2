import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { Transform, type Readable } from 'node:stream'
import { Errors, RelayHttpError } from '../errors.js'
import type { Relay } from './types.js'

/**
 * Mounts the relays' own routes (Relay.inbound) at POST /relays/{relay}/{path}. Bodies are handed
 * over raw, whatever their type, because platforms sign the bytes. The relays are looked up per
 * request, so a reloaded relay's routes are the ones that answer.
 */
export async function inboundRoutes(app: FastifyInstance, options: { relays: () => ReadonlyMap<string, Relay> }) {
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body))

  const routeOf = (request: FastifyRequest) => {
    const { relay: name, '*': path } = request.params as { relay: string; '*': string }
    return {
      name,
      path,
      route: options
        .relays()
        .get(name)
        ?.inbound?.find(r => r.path === path)
    }
  }

  // A route's own body limit holds before a byte of the body is read, however it is framed.
  app.addHook('preParsing', async (request, _reply, payload) => {
    const limit = routeOf(request).route?.bodyLimit
    if (limit === undefined) return payload
    const refusal = () =>
      new RelayHttpError('BODY_TOO_LARGE', `the body is larger than this route's limit of ${limit} bytes`)
    if (Number(request.headers['content-length'] ?? 0) > limit) throw refusal()
    return capped(payload, limit, refusal)
  })

  app.post('/relays/:relay/*', async (request: FastifyRequest, reply: FastifyReply) => {
    const { name, path, route } = routeOf(request)
    if (!route) {
      return reply
        .code(404)
        .header('x-relay-error', 'ROUTE_NOT_FOUND')
        .send({ code: 404, msg: `no relay route POST /relays/${name}/${path}` })
    }
    const rawBody = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0)
    let answer
    try {
      answer = await route.handle({
        headers: request.headers,
        rawBody,
        query: request.query as Record<string, string | undefined>
      })
    } catch (error) {
      request.log.error({ err: error, relay: name, path }, 'relay route failed')
      return reply.code(500).header('x-relay-error', 'INTERNAL').send({ code: 500, msg: Errors.INTERNAL.message })
    }
    reply.code(answer.status)
    for (const [key, value] of Object.entries(answer.headers ?? {})) reply.header(key, value)
    if (answer.body === undefined) return reply.send()
    if (typeof answer.body === 'string')
      return reply.type(answer.headers?.['content-type'] ?? 'text/plain').send(answer.body)
    return reply.type('application/json; charset=utf-8').send(JSON.stringify(answer.body))
  })
}

/** The body as it comes, failing with `refusal()` once more than `limit` bytes have come. */
function capped(payload: Readable, limit: number, refusal: () => Error): Readable {
  let seen = 0
  const cap = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      seen += chunk.length
      done(seen > limit ? refusal() : null, chunk)
    }
  })
  payload.on('error', error => cap.destroy(error))
  return payload.pipe(cap)
}
