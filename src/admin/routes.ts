import type { FastifyInstance, FastifyRequest } from 'fastify'
import { TypeBoxValidatorCompiler, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { Clock } from '../clock.js'
import { RelayHttpError } from '../errors.js'
import { trust } from '../http/limits.js'
import { Envelope } from '../http/envelope.js'
import { TokenSet } from '../http/tokens.js'
import type {
  AdminQueries,
  ConversationFilter,
  ConversationSummary,
  DeliveryLog,
  DeliveryRecord
} from '../store/types.js'
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

export interface AdminOptions {
  clock: Clock
}

const DEFAULT_LIMIT = 100
/** Path and query fields that hold whole numbers: delivery ids, seqs and page sizes. */
const wholeNumbers = ['id', 'limit', 'afterSeq', 'afterId']
/** The OpenAPI security requirement of every admin route. */
const security = [{ adminToken: [] }]
const errors = { '4xx': Envelope, '5xx': Envelope }

/** Names the part of the request as a client reads it: `query/limit`, `body/relay`. */
const partName = (dataVar: string) => (dataVar === 'querystring' ? 'query' : dataVar)

/** Every delivery of one conversation's messages from seq `seqFrom` to `seqTo`, oldest first, paged through so that none is missed. */
async function deliveriesOf(
  store: DeliveryLog,
  source: string,
  conversationId: string,
  seqFrom: number,
  seqTo: number
): Promise<DeliveryRecord[]> {
  const all: DeliveryRecord[] = []
  const page = 1000
  for (;;) {
    const batch = await store.listDeliveries({
      source,
      conversationId,
      seqFrom,
      seqTo,
      afterId: all.at(-1)?.id,
      limit: page
    })
    all.push(...batch)
    if (batch.length < page) return all
  }
}

/**
 * One page of a conversation's messages in arrival order, each with its deliveries: what
 * GET /admin/conversations/:source/:conversationId/messages answers, also read by the dashboard
 * (which cannot put every conversation id into a URL path: ".." would be resolved away).
 */
export async function conversationPage(
  store: DeliveryLog,
  source: string,
  conversationId: string,
  query: { afterSeq?: number; limit?: number }
) {
  const limit = query.limit ?? DEFAULT_LIMIT
  const stored = await store.listMessages(source, conversationId, { afterSeq: query.afterSeq, limit })
  if (stored.length === 0 && query.afterSeq === undefined) {
    throw new RelayHttpError('NOT_FOUND', `no conversation "${conversationId}" from source "${source}" is stored`)
  }
  const bySeq = new Map<number, DeliveryRecord[]>()
  // Only the deliveries of this page's messages: a long conversation is not read whole per page.
  for (const delivery of stored.length > 0
    ? await deliveriesOf(store, source, conversationId, stored[0]!.seq, stored.at(-1)!.seq)
    : []) {
    const list = bySeq.get(delivery.seq) ?? []
    list.push(delivery)
    bySeq.set(delivery.seq, list)
  }
  const messages = stored.map(({ seq, message }) => ({
    seq,
    message,
    // The reply schema (MessageDelivery) leaves out what the message already says.
    deliveries: bySeq.get(seq) ?? []
  }))
  return { source, conversationId, messages, next: stored.length === limit ? stored.at(-1)!.seq : undefined }
}

/**
 * The conversation a page ended with, as an opaque cursor: the time alone would skip or repeat
 * conversations last active in the same millisecond.
 */
export const toCursor = (c: ConversationSummary): string =>
  Buffer.from(JSON.stringify([c.lastReceivedAt, c.source, c.conversationId])).toString('base64url')

function fromCursor(cursor: string): NonNullable<ConversationFilter['after']> {
  try {
    const [lastReceivedAt, source, conversationId] = JSON.parse(
      Buffer.from(cursor, 'base64url').toString()
    ) as unknown[]
    if (Number.isSafeInteger(lastReceivedAt) && typeof source === 'string' && typeof conversationId === 'string') {
      return { lastReceivedAt: lastReceivedAt as number, source, conversationId }
    }
  } catch {
    /* answered below */
  }
  throw new RelayHttpError(
    'REQUEST_INVALID',
    "query/after is not a cursor this API gave out: pass the previous page's `next` as it was"
  )
}

/**
 * The admin API under /admin: conversations, the delivery log, dead letters and their replay, and
 * config reload. Disabled (ADMIN_DISABLED) without admin.token; otherwise it wants that token as a
 * Bearer token. Webhook tokens do not open it.
 */
export async function adminRoutes(parent: FastifyInstance, options: AdminOptions): Promise<void> {
  const app = parent.withTypeProvider<TypeBoxTypeProvider>()
  const { clock } = options
  // The admin API reads the log and repairs the outbox; the rest of the store is not its business.
  const store: AdminQueries = app.relay.store
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

  const configured = (relay: string, doing: string) => {
    if (app.relay.relays.has(relay)) return
    const names = [...app.relay.relays.keys()].map(name => `"${name}"`).join(', ') || 'none'
    throw new RelayHttpError(
      'NOT_FOUND',
      `no relay named "${relay}" is configured (configured: ${names}); cannot ${doing}`
    )
  }

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
    async request => {
      const { source, after, relay, status, search } = request.query
      const limit = request.query.limit ?? DEFAULT_LIMIT
      const conversations = await store.listConversations({
        source,
        limit,
        after: after === undefined ? undefined : fromCursor(after),
        relay,
        status,
        search
      })
      const last = conversations.at(-1)
      return { conversations, next: conversations.length === limit && last ? toCursor(last) : undefined }
    }
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
    async request => {
      const { source, conversationId } = request.params
      return conversationPage(store, source, conversationId, request.query)
    }
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
    async () => {
      const stats = await app.relay.store.backlog()
      const now = clock.now()
      const names = new Set([
        ...app.relay.relays.keys(),
        ...Object.keys(stats.pendingByRelay),
        ...Object.keys(stats.deadByRelay)
      ])
      return {
        relays: [...names].sort().map(relay => {
          const oldest = stats.oldestPendingByRelay[relay]
          return {
            relay,
            configured: app.relay.relays.has(relay),
            pending: stats.pendingByRelay[relay] ?? 0,
            dead: stats.deadByRelay[relay] ?? 0,
            ...(oldest === undefined ? {} : { oldestPendingAt: oldest }),
            lagMs: oldest === undefined ? 0 : Math.max(0, now - oldest)
          }
        })
      }
    }
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
    async request => {
      const limit = request.query.limit ?? DEFAULT_LIMIT
      const deadLetters = await store.listDeliveries({ ...request.query, status: 'dead', limit })
      return { deadLetters, next: deadLetters.length === limit ? deadLetters.at(-1)!.id : undefined }
    }
  )

  /** The one dead letter an action names: 404 when there is no such delivery, 409 when it is not dead. */
  const deadLetter = async (id: number, doing: string) => {
    const record = await store.deliveryById(id)
    if (!record) throw new RelayHttpError('NOT_FOUND', `no delivery ${id} is stored`)
    if (record.status !== 'dead')
      throw new RelayHttpError(
        'CONFLICT',
        `delivery ${id} is ${record.status}, not dead; only dead letters can be ${doing}`
      )
    return record
  }

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
    async request => {
      const { id } = request.params
      const record = await deadLetter(id, 'replayed')
      configured(record.relay, `replay delivery ${id}`)
      const replayed = await store.replayDead({ deliveryId: id }, clock.now())
      // Someone else replayed or dropped it between the look-up and now.
      if (replayed === 0) throw new RelayHttpError('CONFLICT', `delivery ${id} is no longer dead`)
      app.relay.dispatcher.notify()
      request.log.info(
        { deliveryId: id, relay: record.relay, source: record.source, conversationId: record.conversationId },
        'dead letter replayed'
      )
      return { replayed }
    }
  )

  /** A conversation id is only unique within its source: one without the other is refused. */
  const sourceWithConversation = (source: string | undefined, conversationId: string | undefined) => {
    if (conversationId !== undefined && source === undefined) {
      throw new RelayHttpError(
        'REQUEST_INVALID',
        'body/source is required with body/conversationId: a conversation id is only unique within its source'
      )
    }
  }

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
    async request => {
      const { relay, source, conversationId } = request.body
      sourceWithConversation(source, conversationId)
      configured(relay, 'replay its dead letters')
      const replayed = await store.replayDead({ relay, source, conversationId }, clock.now())
      if (replayed > 0) app.relay.dispatcher.notify()
      request.log.info({ relay, source, conversationId, replayed }, 'dead letters replayed')
      return { replayed }
    }
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
    async request => {
      const { relay, source, conversationId } = request.body
      sourceWithConversation(source, conversationId)
      // Not `configured`: dead letters of a relay taken out of the config can still be cleared.
      const dropped = await store.dropDead({ relay, source, conversationId })
      request.log.info({ relay, source, conversationId, dropped }, 'dead letters dropped')
      return { dropped }
    }
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
    async request => {
      const { id } = request.params
      const record = await deadLetter(id, 'dropped')
      const dropped = await store.dropDead({ deliveryId: id })
      if (dropped === 0) throw new RelayHttpError('CONFLICT', `delivery ${id} is no longer dead`)
      request.log.info(
        { deliveryId: id, relay: record.relay, source: record.source, conversationId: record.conversationId },
        'dead letter dropped'
      )
      return { dropped }
    }
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
      const { relay } = request.body
      configured(relay, `replay conversation "${conversationId}" into it`)
      if ((await store.listMessages(source, conversationId, { limit: 1 })).length === 0) {
        throw new RelayHttpError('NOT_FOUND', `no conversation "${conversationId}" from source "${source}" is stored`)
      }
      const queued = await store.replayConversation(source, conversationId, relay, clock.now())
      if (queued > 0) app.relay.dispatcher.notify()
      request.log.info({ source, conversationId, relay, queued }, 'conversation replayed')
      return { queued }
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
    async request => {
      const reload = app.relay.reload
      if (!reload) throw new RelayHttpError('RELOAD_UNSUPPORTED')
      let result
      try {
        result = await reload()
      } catch (error) {
        throw new RelayHttpError(
          'RELOAD_FAILED',
          `reload failed: ${(error as Error).message}; the running config is unchanged`,
          { cause: error }
        )
      }
      if (!result.ok) throw new RelayHttpError('RELOAD_FAILED', result.message)
      request.log.info({ result }, 'config reloaded')
      return result
    }
  )
}
