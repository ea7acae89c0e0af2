import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Config } from '../config/schema.js'
import type { Clock } from '../clock.js'
import { RelayHttpError } from '../errors.js'
import type { MessageType } from '../message.js'
import type { Router } from './router.js'
import type { Outbox } from '../store/types.js'
import { checker, slashPath } from '../validation/validate.js'
import { sourceAuth, sourceOf } from './auth.js'
import { deliverabilityProblems, withWellFormedText } from './deliverable.js'
import { fromV1, fromV2 } from './normalise.js'
import { protectIntake } from './protect.js'
import { Envelope, WebhookV1, WebhookV2 } from './schemas.js'

export interface IntakeOptions {
  config: Config
  /** The config in force now, when a reload may replace `config`: auth is read from it per request. */
  liveConfig?(): Config
  store: Pick<Outbox, 'accept'>
  router: Router
  clock: Clock
  /** Called after a message is stored, to wake delivery. */
  accepted(): void
  /** Told of every webhook answered with success, for metrics. */
  observe?(event: IntakeEvent): void
}

/** A webhook answered with success: a new message, one already stored, or an availability probe. */
export type IntakeEvent =
  | { kind: 'received' | 'duplicate'; source: string; type: MessageType }
  | { kind: 'probe'; source: string }

const v1 = checker(WebhookV1)
const v2 = checker(WebhookV2)
const replySchema = { 200: Envelope, '4xx': Envelope, '5xx': Envelope }

/** POST /webhook and POST /webhook/:source: authenticate, validate, normalise, store, acknowledge. */
export async function intakeRoutes(app: FastifyInstance, options: IntakeOptions): Promise<void> {
  const { store, router, clock } = options
  const liveConfig = options.liveConfig ?? (() => options.config)
  const checkSource = sourceAuth(liveConfig)
  const protection = await protectIntake(app, options.config.intake, sourceOf)

  // Credentials are checked before the body is read, so strangers cannot make the relay parse anything.
  const checkAuth = async (request: FastifyRequest, reply: FastifyReply) => {
    try {
      const refusal = checkSource(request)
      if (refusal) throw refusal
    } catch (error) {
      // Failures spend a budget of their own, per address, never the source's (see protect.ts).
      await protection.limitFailures?.(request, reply)
      throw error
    }
  }

  const receive = async (request: FastifyRequest, reply: FastifyReply) => {
    const source = sourceOf(request)
    const body = request.body
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new RelayHttpError('BODY_NOT_OBJECT')
    if ((body as { istest?: unknown }).istest === true) {
      request.log.info({ source }, 'availability probe answered; nothing stored')
      options.observe?.({ kind: 'probe', source })
      return reply.send({ code: 200, msg: 'success' })
    }
    const receivedAt = clock.now()
    let message
    if ('output' in body) {
      const problems = v2.problems(body, slashPath('body'))
      if (problems.length > 0) throw new RelayHttpError('BODY_INVALID', problems.join('; '))
      message = fromV2(body as WebhookV2, source, receivedAt)
    } else {
      const problems = v1.problems(body, slashPath('body'))
      if (problems.length > 0) throw new RelayHttpError('BODY_INVALID', problems.join('; '))
      message = fromV1(body as WebhookV1, source, receivedAt)
    }
    const undeliverable = deliverabilityProblems(message)
    if (undeliverable.length > 0) throw new RelayHttpError('BODY_INVALID', undeliverable.join('; '))
    message = withWellFormedText(message)
    const destinations = router(message)
    let result
    try {
      result = await store.accept(message, destinations)
    } catch (error) {
      request.log.error(
        { err: error, source, conversationId: message.conversationId, messageId: message.messageId },
        'store refused a message'
      )
      reply.header('retry-after', options.config.intake.backpressure.retryAfterSeconds)
      throw new RelayHttpError('STORE_UNAVAILABLE', undefined, { cause: error })
    }
    const fields = { source, conversationId: message.conversationId, messageId: message.messageId, type: message.type }
    options.observe?.({ kind: result.duplicate ? 'duplicate' : 'received', source, type: message.type })
    if (result.duplicate) {
      request.log.info(fields, 'duplicate message acknowledged; already stored')
    } else {
      request.log.info(
        { ...fields, relays: destinations },
        destinations.length > 0 ? 'message accepted' : 'message accepted; no route sends it anywhere'
      )
      if (destinations.length > 0) options.accepted()
    }
    return reply.send({ code: 200, msg: 'success' })
  }

  // Who is asking, then whether the relay can take it, then the source's budget; all before the body is read.
  const onRequest = [checkAuth, protection.admit, ...(protection.limitSource ? [protection.limitSource] : [])]
  const route = { schema: { response: replySchema }, onRequest, handler: receive }
  app.post('/webhook', route)
  app.post('/webhook/:source', route)
}
