import type { FastifyBaseLogger } from 'fastify'
import type { ReloadResult } from '../config/reload-plan.js'
import type { Clock } from '../clock.js'
import { RelayHttpError } from '../errors.js'
import type {
  AdminQueries,
  BacklogStats,
  ConversationFilter,
  ConversationSummary,
  DeliveryAttempt,
  DeliveryLog,
  DeliveryRecord
} from '../store/types.js'

export const DEFAULT_LIMIT = 100

/** What the service reads of the running relay: each read goes to it, since a reload changes relays, config and secrets. */
export interface AdminRuntime {
  store: AdminQueries
  relays: ReadonlyMap<string, unknown>
  dispatcher: { notify(): void }
  scrubber: { text(text: string): string }
  reload?: () => Promise<ReloadResult>
}

/** The dead letters an action takes: every one of a relay, optionally of one conversation. */
export interface DeadLetterGroup {
  relay: string
  source?: string
  conversationId?: string
}

export interface BacklogRow {
  relay: string
  configured: boolean
  pending: number
  dead: number
  oldestPendingAt?: number
  lagMs: number
}

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
 * What an operator can read and repair, whichever door they come in by: the admin API and the
 * dashboard both call this, so both check and log alike. Refusals are RelayHttpErrors with the
 * admin API's codes; delivery errors come out scrubbed of secrets.
 */
export class AdminService {
  constructor(
    private readonly runtime: AdminRuntime,
    private readonly clock: Clock,
    private readonly log: FastifyBaseLogger
  ) {}

  private get store(): AdminQueries {
    return this.runtime.store
  }

  /** Names of the configured relays, sorted. */
  relayNames(): string[] {
    return [...this.runtime.relays.keys()].sort()
  }

  /** Stored errors quote what the other side answered, and may predate scrubbing. */
  private shown<T extends { lastError?: string }>(record: T): T {
    return record.lastError === undefined
      ? record
      : { ...record, lastError: this.runtime.scrubber.text(record.lastError) }
  }

  private configured(relay: string, doing: string): void {
    if (this.runtime.relays.has(relay)) return
    const names = [...this.runtime.relays.keys()].map(name => `"${name}"`).join(', ') || 'none'
    throw new RelayHttpError(
      'NOT_FOUND',
      `no relay named "${relay}" is configured (configured: ${names}); cannot ${doing}`
    )
  }

  /** Conversations, most recently active first, one page after the cursor `after`. */
  async conversations(query: Omit<ConversationFilter, 'after'> & { after?: string }) {
    const limit = query.limit ?? DEFAULT_LIMIT
    const conversations = await this.store.listConversations({
      ...query,
      limit,
      after: query.after === undefined ? undefined : fromCursor(query.after)
    })
    const last = conversations.at(-1)
    return { conversations, next: conversations.length === limit && last ? toCursor(last) : undefined }
  }

  /** One page of a conversation's messages in arrival order, each with its deliveries. */
  async conversation(source: string, conversationId: string, query: { afterSeq?: number; limit?: number }) {
    const limit = query.limit ?? DEFAULT_LIMIT
    const stored = await this.store.listMessages(source, conversationId, { afterSeq: query.afterSeq, limit })
    if (stored.length === 0 && query.afterSeq === undefined) {
      throw new RelayHttpError('NOT_FOUND', `no conversation "${conversationId}" from source "${source}" is stored`)
    }
    const bySeq = new Map<number, DeliveryRecord[]>()
    // Only the deliveries of this page's messages: a long conversation is not read whole per page.
    for (const delivery of stored.length > 0
      ? await deliveriesOf(this.store, source, conversationId, stored[0]!.seq, stored.at(-1)!.seq)
      : []) {
      const list = bySeq.get(delivery.seq) ?? []
      list.push(this.shown(delivery))
      bySeq.set(delivery.seq, list)
    }
    const attempts = await this.attemptsOf([...bySeq.values()].flat().map(d => d.id))
    const messages = stored.map(({ seq, message }) => ({
      seq,
      message,
      deliveries: (bySeq.get(seq) ?? []).map(d => ({ ...d, history: attempts.get(d.id) ?? [] }))
    }))
    return { source, conversationId, messages, next: stored.length === limit ? stored.at(-1)!.seq : undefined }
  }

  /** Each delivery's attempts and replays, oldest first, errors scrubbed. */
  private async attemptsOf(deliveryIds: number[]): Promise<Map<number, DeliveryAttempt[]>> {
    const byDelivery = new Map<number, DeliveryAttempt[]>()
    if (deliveryIds.length === 0) return byDelivery
    for (const attempt of await this.store.listAttempts(deliveryIds)) {
      const list = byDelivery.get(attempt.deliveryId) ?? []
      list.push(
        attempt.error === undefined ? attempt : { ...attempt, error: this.runtime.scrubber.text(attempt.error) }
      )
      byDelivery.set(attempt.deliveryId, list)
    }
    return byDelivery
  }

  /** The backlog per configured relay and per relay that still has pending or dead deliveries. */
  async backlog(): Promise<{ relays: BacklogRow[]; stats: BacklogStats }> {
    const stats = await this.store.backlog()
    const now = this.clock.now()
    const names = new Set([
      ...this.runtime.relays.keys(),
      ...Object.keys(stats.pendingByRelay),
      ...Object.keys(stats.deadByRelay)
    ])
    const relays = [...names].sort().map(relay => {
      const oldest = stats.oldestPendingByRelay[relay]
      return {
        relay,
        configured: this.runtime.relays.has(relay),
        pending: stats.pendingByRelay[relay] ?? 0,
        dead: stats.deadByRelay[relay] ?? 0,
        ...(oldest === undefined ? {} : { oldestPendingAt: oldest }),
        lagMs: oldest === undefined ? 0 : Math.max(0, now - oldest)
      }
    })
    return { relays, stats }
  }

  /** Dead letters, oldest first. */
  async deadLetters(query: {
    relay?: string
    source?: string
    conversationId?: string
    afterId?: number
    limit?: number
  }) {
    const limit = query.limit ?? DEFAULT_LIMIT
    const deadLetters = (await this.store.listDeliveries({ ...query, status: 'dead', limit })).map(d => this.shown(d))
    return { deadLetters, next: deadLetters.length === limit ? deadLetters.at(-1)!.id : undefined }
  }

  /** One delivery as the log has it, or undefined. */
  async delivery(id: number): Promise<DeliveryRecord | undefined> {
    const record = await this.store.deliveryById(id)
    return record && this.shown(record)
  }

  /** The one dead letter an action names: 404 when there is no such delivery, 409 when it is not dead. */
  private async deadLetter(id: number, doing: string): Promise<DeliveryRecord> {
    const record = await this.store.deliveryById(id)
    if (!record) throw new RelayHttpError('NOT_FOUND', `no delivery ${id} is stored`)
    if (record.status !== 'dead')
      throw new RelayHttpError(
        'CONFLICT',
        `delivery ${id} is ${record.status}, not dead; only dead letters can be ${doing}`
      )
    return record
  }

  /** Makes one dead letter pending again, in its place in its conversation's lane. */
  async replayDeadLetter(id: number): Promise<number> {
    const record = await this.deadLetter(id, 'replayed')
    this.configured(record.relay, `replay delivery ${id}`)
    const replayed = await this.store.replayDead({ deliveryId: id }, this.clock.now())
    // Someone else replayed or dropped it between the look-up and now.
    if (replayed === 0) throw new RelayHttpError('CONFLICT', `delivery ${id} is no longer dead`)
    this.runtime.dispatcher.notify()
    const { relay, source, conversationId } = record
    this.log.info({ deliveryId: id, relay, source, conversationId }, 'dead letter replayed')
    return replayed
  }

  /** Deletes one dead letter for good. */
  async dropDeadLetter(id: number): Promise<number> {
    const record = await this.deadLetter(id, 'dropped')
    const dropped = await this.store.dropDead({ deliveryId: id })
    if (dropped === 0) throw new RelayHttpError('CONFLICT', `delivery ${id} is no longer dead`)
    const { relay, source, conversationId } = record
    this.log.info({ deliveryId: id, relay, source, conversationId }, 'dead letter dropped')
    return dropped
  }

  /** A conversation id is only unique within its source: one without the other is refused. */
  private static whole(group: DeadLetterGroup): void {
    if (group.conversationId !== undefined && group.source === undefined) {
      throw new RelayHttpError(
        'REQUEST_INVALID',
        'body/source is required with body/conversationId: a conversation id is only unique within its source'
      )
    }
  }

  /** Makes every dead letter of a group pending again. */
  async replayDead(group: DeadLetterGroup): Promise<number> {
    AdminService.whole(group)
    this.configured(group.relay, 'replay its dead letters')
    const { relay, source, conversationId } = group
    const replayed = await this.store.replayDead({ relay, source, conversationId }, this.clock.now())
    if (replayed > 0) this.runtime.dispatcher.notify()
    this.log.info({ relay, source, conversationId, replayed }, 'dead letters replayed')
    return replayed
  }

  /** Deletes every dead letter of a group for good; a relay taken out of the config can still be cleared. */
  async dropDead(group: DeadLetterGroup): Promise<number> {
    AdminService.whole(group)
    const { relay, source, conversationId } = group
    const dropped = await this.store.dropDead({ relay, source, conversationId })
    this.log.info({ relay, source, conversationId, dropped }, 'dead letters dropped')
    return dropped
  }

  /** Queues a whole conversation, in order, for a relay. */
  async replayConversation(source: string, conversationId: string, relay: string): Promise<number> {
    this.configured(relay, `replay conversation "${conversationId}" into it`)
    if ((await this.store.listMessages(source, conversationId, { limit: 1 })).length === 0) {
      throw new RelayHttpError('NOT_FOUND', `no conversation "${conversationId}" from source "${source}" is stored`)
    }
    const queued = await this.store.replayConversation(source, conversationId, relay, this.clock.now())
    if (queued > 0) this.runtime.dispatcher.notify()
    this.log.info({ source, conversationId, relay, queued }, 'conversation replayed')
    return queued
  }

  /** Reads the config file again and applies it. */
  async reload(): Promise<ReloadResult> {
    const reload = this.runtime.reload
    if (!reload) throw new RelayHttpError('RELOAD_UNSUPPORTED')
    let result: ReloadResult
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
    this.log.info({ result }, 'config reloaded')
    return result
  }
}
