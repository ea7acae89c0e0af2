import type { FastifyInstance, FastifyRequest } from 'fastify'
import { TypeBoxValidatorCompiler, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { Clock } from '../clock.js'
import { RelayHttpError } from '../errors.js'
import { trust } from '../http/limits.js'
import { Envelope } from '../http/envelope.js'
import { TokenSet } from '../http/tokens.js'
import { explain, slashPath } from '../validation/validate.js'
import { isAdmin } from './auth.js'
import {
  BacklogReply,
  ConversationParams,
  ConversationsQuery,
  ConversationsReply,
  DeadLettersQuery,
  DeadLettersReply,
  DeliveryParams,
  DroppedReply,
  MessagesQuery,
  MessagesReply,
  QueuedReply,
  ReloadReply,
  ReplayConversationBody,
  ReplayDeadBody,
  ReplayedReply
} from './schemas.js'
import { AdminService } from './service.js'
import { backfillRoutes } from '../backfill/routes.js'

export interface AdminOptions {
  clock: Clock
}

/** Path and query fields that hold whole numbers: delivery ids, seqs and page sizes. */
const wholeNumbers = ['id', 'limit', 'afterSeq', 'afterId']
/** The OpenAPI security requirement of every admin route. */
const security = [{ adminToken: [] }]
const errors = { '4xx': Envelope, '5xx': Envelope }

/** Names the part of the request as a client reads it: `query/limit`, `body/relay`. */
const partName = (dataVar: string) => (dataVar === 'querystring' ? 'query' : dataVar)

/**
 * The admin API under /admin: conversations, the delivery log, dead letters and their replay, and
 * config reload. Disabled (ADMIN_DISABLED) without admin.token; otherwise it wants that token as a
 * Bearer token. Webhook tokens do not open it.
 */
export async function adminRoutes(parent: FastifyInstance, options: AdminOptions): Promise<void> {
  const app = parent.withTypeProvider<TypeBoxTypeProvider>()
  // The admin API reads the log and repairs the outbox through the service the dashboard uses too.
  const service = new AdminService(app.relay, options.clock, app.log)
  app.setValidatorCompiler(TypeBoxValidatorCompiler)
  app.setSchemaErrorFormatter(
    (errors, dataVar) =>
      new RelayHttpError('REQUEST_INVALID', explain(errors as never, slashPath(partName(dataVar))).join('; '))
  )

  // The token is read per request: a config reload may set, change or remove it.
  let prepared: { token: string; set: TokenSet } | undefined
  app.addHook('onRequest', async (request: FastifyRequest) => {
    const token = app.relay.config.admin.token
    if (!token) throw new RelayHttpError('ADMIN_DISABLED')
    if (prepared?.token !== token) prepared = { token, set: new TokenSet([token]) }
    if (!isAdmin(request.headers.authorization, prepared.set)) throw new RelayHttpError('ADMIN_AUTH')
    trust(request)
  })

  // Delivery errors quote what relays and receivers answered, which may echo a credential; errors
  // stored before they were scrubbed are covered too.
  app.addHook('onSend', async (_request, _reply, payload) =>
    typeof payload === 'string' ? app.relay.scrubber.json(payload) : payload
  )

  // Numbers in the path and query arrive as text, and the schema's coercion reads `49.9` as 49 and
  // `0x35` as 53: a delivery id that is not plainly written must not act on another delivery.
  app.addHook('preValidation', async request => {
    for (const [part, values] of [
      ['params', request.params],
      ['query', request.query]
    ] as const) {
      for (const name of wholeNumbers) {
        const value = (values as Record<string, unknown> | undefined)?.[name]
        if (value === undefined) continue
        if (typeof value !== 'string' || !/^[0-9]{1,15}$/.test(value))
          throw new RelayHttpError(
            'REQUEST_INVALID',
            `${part}/${name} must be an integer in plain decimal digits, e.g. 42 (got ${JSON.stringify(value)})`
          )
      }
    }
  })

  app.get(
    '/conversations',
    {
      schema: {
        summary: 'Conversations, most recently active first, with where their messages go',
        tags: ['admin'],
        security,
        querystring: ConversationsQuery,
        response: { 200: ConversationsReply, ...errors }
      }
    },
    async request => service.conversations(request.query)
  )

  app.get(
    '/conversations/:source/:conversationId/messages',
    {
      schema: {
        summary: "A conversation's messages in arrival order, each with its deliveries",
        tags: ['admin'],
        security,
        params: ConversationParams,
        querystring: MessagesQuery,
        response: { 200: MessagesReply, ...errors }
      }
    },
    async request => service.conversation(request.params.source, request.params.conversationId, request.query)
  )

  app.get(
    '/backlog',
    {
      schema: {
        summary: 'The backlog per relay: pending, dead, and how long the oldest pending message has waited',
        tags: ['admin'],
        security,
        response: { 200: BacklogReply, ...errors }
      }
    },
    async () => ({ relays: (await service.backlog()).relays })
  )

  app.get(
    '/dead-letters',
    {
      schema: {
        summary: 'Dead letters, oldest first: deliveries a relay gave up on, with their last error',
        tags: ['admin'],
        security,
        querystring: DeadLettersQuery,
        response: { 200: DeadLettersReply, ...errors }
      }
    },
    async request => service.deadLetters(request.query)
  )

  app.post(
    '/dead-letters/:id/replay',
    {
      schema: {
        summary: "Makes one dead letter pending again; it keeps its place in its conversation's lane",
        tags: ['admin'],
        security,
        params: DeliveryParams,
        response: { 200: ReplayedReply, ...errors }
      }
    },
    async request => ({ replayed: await service.replayDeadLetter(request.params.id) })
  )

  app.post(
    '/dead-letters/replay',
    {
      schema: {
        summary: 'Makes every dead letter of a relay (optionally of one conversation) pending again',
        tags: ['admin'],
        security,
        body: ReplayDeadBody,
        response: { 200: ReplayedReply, ...errors }
      }
    },
    async request => ({ replayed: await service.replayDead(request.body) })
  )

  app.post(
    '/dead-letters/drop',
    {
      schema: {
        summary: 'Deletes every dead letter of a relay (optionally of one conversation) for good',
        tags: ['admin'],
        security,
        body: ReplayDeadBody,
        response: { 200: DroppedReply, ...errors }
      }
    },
    async request => ({ dropped: await service.dropDead(request.body) })
  )

  app.delete(
    '/dead-letters/:id',
    {
      schema: {
        summary: 'Deletes one dead letter for good',
        tags: ['admin'],
        security,
        params: DeliveryParams,
        response: { 200: DroppedReply, ...errors }
      }
    },
    async request => ({ dropped: await service.dropDeadLetter(request.params.id) })
  )

  app.post(
    '/conversations/:source/:conversationId/replay',
    {
      schema: {
        summary: 'Queues a whole conversation, in order, for a relay (after what its lane already holds)',
        tags: ['admin'],
        security,
        params: ConversationParams,
        body: ReplayConversationBody,
        response: { 200: QueuedReply, ...errors }
      }
    },
    async request => {
      const { source, conversationId } = request.params
      return { queued: await service.replayConversation(source, conversationId, request.body.relay) }
    }
  )

  app.post(
    '/reload',
    {
      schema: {
        summary: 'Reads the config file again and applies it',
        tags: ['admin'],
        security,
        response: { 200: ReloadReply, ...errors }
      }
    },
    async () => service.reload()
  )

  // Registered last and inside, so that the token check and every hook above cover it.
  await app.register(backfillRoutes)
}
