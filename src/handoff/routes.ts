import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Config } from '../config/schema.js'
import { RelayHttpError } from '../errors.js'
import { sourceAuth, sourceOf } from '../intake/auth.js'
import { Envelope } from '../intake/schemas.js'
import { checker, slashPath } from '../validation/validate.js'
import type { Desk, Stored } from './desk.js'
import { ChatBody, CloseBody, EstablishBody, HandoffAnswer } from './schemas.js'

export interface HandoffRouteOptions {
  desk: Desk
  /** The config in force now: auth is read from it per request, as for webhooks. */
  liveConfig(): Config
}

/** The largest body read from a request without valid credentials, to see whether it is a probe. */
const probeBodyLimit = 4096

const replySchema = { 200: HandoffAnswer, '4xx': Envelope, '5xx': Envelope }

const calls = {
  'conversation/establish': {
    check: checker(EstablishBody),
    act: (d: Desk, s: string, b: unknown) => d.establish(s, b as EstablishBody)
  },
  chat: { check: checker(ChatBody), act: (d: Desk, s: string, b: unknown) => d.chat(s, b as ChatBody) },
  'conversation/close': {
    check: checker(CloseBody),
    act: (d: Desk, s: string, b: unknown) => d.closedByGptbots(s, b as CloseBody)
  }
} as const

/**
 * GPTBots' human-handoff endpoints (webhook mode): POST /handoff/{call} and
 * /handoff/{source}/{call}, authenticated as the webhook of that source is. Each call is stored
 * before GPTBots gets `{"code":200,"message":"success"}`; a repeat is recognised and acknowledged.
 */
export async function handoffRoutes(app: FastifyInstance, options: HandoffRouteOptions): Promise<void> {
  const { desk } = options
  const checkSource = sourceAuth(options.liveConfig)

  /** Requests without valid credentials that may still be GPTBots' URL probe: small enough to read. */
  const probeOnly = new WeakMap<FastifyRequest, RelayHttpError>()
  const checkAuth = async (request: FastifyRequest) => {
    const refusal = checkSource(request)
    if (!refusal) return
    // GPTBots may check the URL without the webhook's Authorization. Such a probe changes nothing,
    // so it is answered; only a small body is read for it, and anything else is refused as before.
    const length = Number(request.headers['content-length'])
    if (Number.isInteger(length) && length > 0 && length <= probeBodyLimit) {
      probeOnly.set(request, refusal)
      return
    }
    throw refusal
  }
  const answerProbe = async (request: FastifyRequest, reply: FastifyReply) => {
    const refusal = probeOnly.get(request)
    if (!refusal) return
    const body = request.body as { istest?: unknown } | null
    if (body === null || typeof body !== 'object' || body.istest !== true) throw refusal
    request.log.info(
      { source: sourceOf(request) },
      'handoff availability probe without credentials answered; nothing stored'
    )
    return reply.send({ code: 200, message: 'success' })
  }

  for (const [path, call] of Object.entries(calls)) {
    const handler = async (request: FastifyRequest, reply: FastifyReply) => {
      const source = sourceOf(request)
      const body = request.body
      if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new RelayHttpError('BODY_NOT_OBJECT')
      if ((body as { istest?: unknown }).istest === true) {
        request.log.info({ source, call: path }, 'handoff availability probe answered; nothing stored')
        return reply.send({ code: 200, message: 'success' })
      }
      const problems = call.check.problems(body, slashPath('body'))
      if (problems.length > 0) throw new RelayHttpError('HANDOFF_BODY_INVALID', problems.join('; '))
      let stored: Stored
      try {
        stored = await call.act(desk, source, body)
      } catch (error) {
        request.log.error({ err: error, source, call: path }, 'store refused a handoff call')
        throw new RelayHttpError('STORE_UNAVAILABLE', undefined, { cause: error })
      }
      const handoffId = (body as { conversation_id: string }).conversation_id
      request.log.info(
        { source, handoffId, call: path },
        stored.duplicate ? 'handoff call repeated; already stored' : 'handoff call accepted'
      )
      return reply.send({ code: 200, message: 'success' })
    }
    const route = { schema: { response: replySchema }, onRequest: checkAuth, preHandler: answerProbe, handler }
    app.post(`/handoff/${path}`, route)
    app.post(`/handoff/:source/${path}`, route)
  }
}
