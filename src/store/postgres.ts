import { randomUUID } from 'node:crypto'
import pg from 'pg'
import type { RelayMessage } from '../message.js'
import { acceptBatch, acceptStatements, type Accepting } from './postgres-accept.js'
import { PostgresOutboxAdmin } from './postgres-admin.js'
import { connect, createPool, describeTarget, inTransaction, type PostgresPoolOptions } from './postgres-connection.js'
import { channelFor, NotificationListener } from './postgres-listen.js'
import { migrate } from './postgres-schema.js'
import {
  type DeliveryRow,
  deliveryFrom,
  type HeadRow,
  outcomeColumns,
  pendingByRelayFrom,
  pendingFrom
} from './shared.js'
import type {
  AcceptResult,
  BacklogStats,
  DeliveryAttempt,
  BatchRecord,
  ClaimOptions,
  ConversationFilter,
  ConversationSummary,
  DeadLetterSelector,
  DeliveryFilter,
  DeliveryRecord,
  FinalOutcome,
  Lane,
  PendingDelivery,
  PruneResult,
  Store,
  StoredMessage
} from './types.js'

export { migratePostgres } from './postgres-schema.js'

export interface PostgresStoreOptions extends PostgresPoolOptions {
  url: string
  /** Every table lives in this schema. */
  schema: string
}

interface Waiting extends Accepting {
  resolve(result: AcceptResult): void
  reject(error: unknown): void
}

/** PostgreSQL hands json columns back parsed. */
const parsed = (json: unknown): unknown => json

/** At most this many messages share one transaction. */
const maxBatch = 500

/**
 * A message that breaks a whole batch (a NUL byte in an id, a key too long for the index) must
 * not fail the others with it: after these errors the batch is stored one message at a time.
 */
const isDataError = (error: unknown) => /^(22|54)/.test((error as { code?: string }).code ?? '')

/**
 * The shared store: PostgreSQL, for several relay replicas on one database. Leases in the lanes
 * table decide which replica delivers a lane; row locks keep each lane in acknowledgement order.
 * Open it with openPostgresStore, which migrates the schema first.
 */
export class PostgresStore implements Store {
  private readonly pool: pg.Pool
  /** Accepts have a connection of their own, so a webhook never queues behind the dispatcher's queries for one. */
  private readonly acceptPool: pg.Pool
  private readonly url: string
  private readonly schema: string
  private readonly q
  private readonly insert
  private readonly admin: PostgresOutboxAdmin
  private waiting: Waiting[] = []
  private committing?: Promise<void>
  private closing?: Promise<void>
  /** Who this store is in notifications, so that it does not wake itself. */
  private readonly self = randomUUID()
  private readonly channel: string
  private readonly watchers = new Set<() => void>()
  private listener?: NotificationListener

  constructor(options: PostgresStoreOptions) {
    this.url = options.url
    this.schema = options.schema
    this.pool = createPool(options.url, options)
    this.acceptPool = createPool(options.url, { ...options, poolSize: 1 })
    const s = pg.escapeIdentifier(options.schema)
    this.channel = channelFor(options.schema)
    this.insert = acceptStatements(s, { channel: this.channel, self: this.self })
    this.admin = new PostgresOutboxAdmin(
      {
        query: (text, values) => this.query(text, values),
        transaction: work => inTransaction(this.pool, this.url, work)
      },
      s
    )
    this.q = {
      // FOR UPDATE SKIP LOCKED: replicas claiming at once each take different lanes instead of
      // waiting for one another. A lane another replica leased after our snapshot is re-checked
      // under the row lock and dropped, so a lane never gets two owners.
      claim: `WITH due AS (
          SELECT id FROM ${s}.lanes
          WHERE due_at IS NOT NULL AND due_at <= $1 AND (owner IS NULL OR lease_until < $1) AND relay = ANY($2::text[])
          ORDER BY due_at, id LIMIT $3
          FOR UPDATE SKIP LOCKED
        )
        UPDATE ${s}.lanes l SET owner = $4, lease_until = $5 FROM due WHERE l.id = due.id
        RETURNING l.id, l.relay, l.source, l.conversation_id AS "conversationId", l.due_at`,
      renew: `UPDATE ${s}.lanes SET lease_until = $1 WHERE id = ANY($2::bigint[]) AND owner = $3`,
      release: `UPDATE ${s}.lanes SET owner = NULL, lease_until = NULL WHERE id = $1 AND owner = $2`,
      head: `SELECT d.id, d.lane_id, d.relay, d.seq, d.attempts, m.payload
        FROM ${s}.deliveries d JOIN ${s}.messages m ON m.seq = d.seq
        WHERE d.lane_id = $1 AND d.status = 'pending' ORDER BY d.id LIMIT 1`,
      // finish, then the lane's next head, in one statement. Every part reads the snapshot taken
      // when the statement began, so `next` skips the delivery being finished by id. A delivery
      // acknowledged after that snapshot is not seen; its accept has set the lane due, so the
      // lane, released here, is claimed again at once. One UPDATE of the lane row does both the
      // finish's bookkeeping and, when nothing is next, the release, under the row lock that
      // accepts take too: the owner check is made on the current row, so a replica that lost the
      // lane gets nothing and releases nothing. Only a delivery still pending counts: two replicas
      // may both report one delivery (a lease ran out), and the lane must move on once.
      finishNext: `WITH finished AS (
          UPDATE ${s}.deliveries SET status = $1, attempts = attempts + 1, last_error = COALESCE($2, last_error),
            posted = $3::json, updated_at = $4
          WHERE id = $5 AND status = 'pending' RETURNING lane_id
        ), next AS (
          SELECT d.id, d.lane_id, d.relay, d.seq, d.attempts, m.payload
          FROM ${s}.deliveries d JOIN ${s}.messages m ON m.seq = d.seq
          WHERE d.lane_id = $6 AND d.status = 'pending' AND d.id <> $5 ORDER BY d.id LIMIT 1
        ), done AS (
          SELECT count(*)::int AS n, NOT EXISTS (SELECT FROM next) AS empty FROM finished
        ), lane AS (
          UPDATE ${s}.lanes l SET pending = l.pending - done.n,
            due_at = CASE WHEN done.n = 0 THEN l.due_at WHEN l.pending > 1 THEN $4 ELSE NULL END,
            owner = CASE WHEN l.owner = $7 AND done.empty THEN NULL ELSE l.owner END,
            lease_until = CASE WHEN l.owner = $7 AND done.empty THEN NULL ELSE l.lease_until END
          FROM done WHERE l.id = $6 AND (done.n > 0 OR l.owner = $7)
          RETURNING l.owner = $7 AS ours
        )
        SELECT next.* FROM next, lane WHERE lane.ours`,
      run: `SELECT d.id, d.lane_id, d.relay, d.seq, d.attempts, m.payload
        FROM ${s}.deliveries d JOIN ${s}.messages m ON m.seq = d.seq
        WHERE d.lane_id = $1 AND d.status = 'pending' ORDER BY d.id LIMIT $2`,
      // The lane row first, under the lock accepts take too: a combined delivery's outcomes and
      // the lane's count move together, and no accept interleaves with them.
      lockLane: `SELECT owner FROM ${s}.lanes WHERE id = $1 FOR UPDATE`,
      deliverEach: `UPDATE ${s}.deliveries d SET status = 'delivered', attempts = d.attempts + 1, posted = v.posted::json, updated_at = $3
        FROM unnest($1::bigint[], $2::text[]) AS v (id, posted)
        WHERE d.id = v.id AND d.status = 'pending'`,
      bury: `UPDATE ${s}.deliveries SET status = 'dead', attempts = attempts + 1, last_error = $1, updated_at = $2
        WHERE id = $3 AND status = 'pending'`,
      failAttempt: `UPDATE ${s}.deliveries SET attempts = attempts + 1, last_error = $1, updated_at = $2
        WHERE id = $3 AND status = 'pending'`,
      advanceLane: `UPDATE ${s}.lanes SET pending = pending - $1::int, due_at = CASE WHEN pending > $1::int THEN $2::bigint ELSE NULL END
        WHERE id = $3`,
      delayLane: `UPDATE ${s}.lanes SET due_at = $1 WHERE id = $2`,
      retry: `WITH failed AS (
          UPDATE ${s}.deliveries SET attempts = attempts + 1, last_error = $1, updated_at = $2
          WHERE id = $3 AND status = 'pending' RETURNING lane_id
        )
        UPDATE ${s}.lanes SET due_at = $4 WHERE id IN (SELECT lane_id FROM failed)`,
      nextDue: `SELECT MIN(CASE WHEN owner IS NULL OR lease_until < $2 THEN due_at ELSE GREATEST(due_at, lease_until) END) AS due
        FROM ${s}.lanes WHERE due_at IS NOT NULL AND relay = ANY($1::text[])`,
      listDeliveries: `SELECT d.id, d.seq, d.relay, m.source, m.conversation_id AS "conversationId", m.message_id AS "messageId",
          m.type, d.status, d.attempts, d.last_error AS "lastError", d.posted, d.created_at AS "createdAt", d.updated_at AS "updatedAt"
        FROM ${s}.deliveries d JOIN ${s}.messages m ON m.seq = d.seq
        WHERE d.id > $1 AND ($2::text IS NULL OR d.status = $2) AND ($3::text IS NULL OR d.relay = $3)
          AND ($4::text IS NULL OR m.source = $4) AND ($5::text IS NULL OR m.conversation_id = $5)
          AND ($7::bigint IS NULL OR m.seq >= $7) AND ($8::bigint IS NULL OR m.seq <= $8)
        ORDER BY d.id LIMIT $6`,
      deliveryById: `SELECT d.id, d.seq, d.relay, m.source, m.conversation_id AS "conversationId", m.message_id AS "messageId",
          m.type, d.status, d.attempts, d.last_error AS "lastError", d.posted, d.created_at AS "createdAt", d.updated_at AS "updatedAt"
        FROM ${s}.deliveries d JOIN ${s}.messages m ON m.seq = d.seq WHERE d.id = $1`,
      pendingByRelay: `SELECT relay, SUM(pending) AS n FROM ${s}.lanes WHERE pending > 0 GROUP BY relay`,
      stateGet: `SELECT value FROM ${s}.relay_state WHERE relay = $1 AND source = $2 AND conversation_id = $3 AND key = $4`,
      stateSet: `INSERT INTO ${s}.relay_state (relay, source, conversation_id, key, value) VALUES ($1, $2, $3, $4, $5::json)
        ON CONFLICT (relay, source, conversation_id, key) DO UPDATE SET value = excluded.value`,
      stateDelete: `DELETE FROM ${s}.relay_state WHERE relay = $1 AND source = $2 AND conversation_id = $3 AND key = $4`,
      // Reads a table of ours, so a missing schema or grant shows up here too.
      ping: `SELECT pg_is_in_recovery() AS standby, EXISTS (SELECT 1 FROM ${s}.lanes) AS readable`
    }
  }

  /** Runs one statement on a pooled connection; a failure to connect names the server. */
  private async query<R extends pg.QueryResultRow>(text: string, values: unknown[]): Promise<pg.QueryResult<R>> {
    const client = await connect(this.pool, this.url)
    try {
      const result = await client.query<R>(text, values)
      client.release()
      return result
    } catch (error) {
      // The connection may be the problem; a fresh one costs little next time.
      client.release(error as Error)
      throw error
    }
  }

  /** Brings the schema up to date on one of the pool's connections. */
  async migrate(): Promise<void> {
    const client = await connect(this.pool, this.url)
    try {
      await migrate(client, this.schema)
      client.release()
    } catch (error) {
      client.release(error as Error)
      throw error
    }
  }

  /**
   * Messages that arrive while a transaction is under way wait and share the next one (group
   * commit): one transaction at a time per replica, so this replica's messages keep their order.
   */
  accept(message: RelayMessage, destinations: string[]): Promise<AcceptResult> {
    if (this.closing) return Promise.reject(new Error('the PostgreSQL store is closed'))
    return new Promise((resolve, reject) => {
      this.waiting.push({ message, destinations, resolve, reject })
      this.committing ??= new Promise<void>(next => setImmediate(next)).then(() => this.commitWaiting())
    })
  }

  private async commitWaiting(): Promise<void> {
    while (this.waiting.length > 0) await this.commit(this.waiting.splice(0, maxBatch))
    this.committing = undefined
  }

  /** Stores a batch and settles each of its promises; never throws. */
  private async commit(batch: Waiting[]): Promise<void> {
    let results: AcceptResult[]
    try {
      results = await acceptBatch(this.acceptPool, this.url, this.insert, batch)
    } catch (error) {
      if (batch.length > 1 && isDataError(error)) {
        for (const one of batch) await this.commit([one])
      } else {
        for (const w of batch) w.reject(error)
      }
      return
    }
    for (const [i, w] of batch.entries()) w.resolve(results[i]!)
  }

  async claimLanes({ owner, now, limit, leaseMs, relays }: ClaimOptions): Promise<Lane[]> {
    if (limit <= 0 || relays.length === 0) return []
    const { rows } = await this.query<Lane & { due_at: number }>(this.q.claim, [
      now,
      relays,
      limit,
      owner,
      now + leaseMs
    ])
    // RETURNING has no order; hand out the longest-waiting lanes first, as the selection did.
    rows.sort((a, b) => a.due_at - b.due_at || a.id - b.id)
    return rows.map(({ id, relay, source, conversationId }) => ({ id, relay, source, conversationId }))
  }

  async head(laneId: number): Promise<PendingDelivery | undefined> {
    const { rows } = await this.query<HeadRow<unknown>>(this.q.head, [laneId])
    return rows[0] && pendingFrom(rows[0], parsed)
  }

  async renewLeases(owner: string, laneIds: number[], until: number): Promise<void> {
    if (laneIds.length === 0) return
    await this.query(this.q.renew, [until, laneIds, owner])
  }

  async releaseLane(laneId: number, owner: string): Promise<void> {
    await this.query(this.q.release, [laneId, owner])
  }

  async finishAndNext(
    delivery: PendingDelivery,
    outcome: FinalOutcome,
    owner: string,
    now: number
  ): Promise<PendingDelivery | undefined> {
    const [error, posted] = outcomeColumns(outcome)
    const { rows } = await this.query<HeadRow<unknown>>(this.q.finishNext, [
      outcome.status,
      error,
      posted,
      now,
      delivery.id,
      delivery.laneId,
      owner
    ])
    return rows[0] && pendingFrom(rows[0], parsed)
  }

  async pendingRun(laneId: number, limit: number): Promise<PendingDelivery[]> {
    const { rows } = await this.query<HeadRow<unknown>>(this.q.run, [laneId, limit])
    return rows.map(row => pendingFrom(row, parsed))
  }

  finishBatch(record: BatchRecord, owner: string, now: number, limit: number): Promise<PendingDelivery[]> {
    const laneIds = new Set([...record.delivered.map(d => d.delivery.laneId), record.next?.delivery.laneId])
    laneIds.delete(undefined)
    if (laneIds.size !== 1) return Promise.reject(new Error("a combined delivery records one lane's messages"))
    const laneId = [...laneIds][0]!
    return inTransaction(this.pool, this.url, async client => {
      const lane = await client.query<{ owner: string | null }>(this.q.lockLane, [laneId])
      let finished = 0
      if (record.delivered.length > 0) {
        const ids = record.delivered.map(d => d.delivery.id)
        const posted = record.delivered.map(d => (d.posted === undefined ? null : JSON.stringify(d.posted)))
        finished += (await client.query(this.q.deliverEach, [ids, posted, now])).rowCount ?? 0
      }
      const next = record.next
      if (next?.status === 'dead')
        finished += (await client.query(this.q.bury, [next.error, now, next.delivery.id])).rowCount ?? 0
      if (finished > 0) await client.query(this.q.advanceLane, [finished, now, laneId])
      if (next?.status === 'retry') {
        if (((await client.query(this.q.failAttempt, [next.error, now, next.delivery.id])).rowCount ?? 0) > 0)
          await client.query(this.q.delayLane, [next.dueAt, laneId])
        return []
      }
      if (lane.rows[0]?.owner !== owner) return []
      const { rows } = await client.query<HeadRow<unknown>>(this.q.run, [laneId, limit])
      if (rows.length === 0) await client.query(this.q.release, [laneId, owner])
      return rows.map(row => pendingFrom(row, parsed))
    })
  }

  async recordRetry(delivery: PendingDelivery, error: string, dueAt: number, now: number): Promise<void> {
    await this.query(this.q.retry, [error, now, delivery.id, dueAt])
  }

  async nextDueAt(relays: string[], now: number): Promise<number | undefined> {
    if (relays.length === 0) return undefined
    const { rows } = await this.query<{ due: number | null }>(this.q.nextDue, [relays, now])
    return rows[0]?.due ?? undefined
  }

  async listDeliveries(filter: DeliveryFilter): Promise<DeliveryRecord[]> {
    const { rows } = await this.query<DeliveryRow<unknown>>(this.q.listDeliveries, [
      filter.afterId ?? 0,
      filter.status ?? null,
      filter.relay ?? null,
      filter.source ?? null,
      filter.conversationId ?? null,
      filter.limit ?? 100,
      filter.seqFrom ?? null,
      filter.seqTo ?? null
    ])
    return rows.map(row => deliveryFrom(row, parsed))
  }

  async deliveryById(id: number): Promise<DeliveryRecord | undefined> {
    const { rows } = await this.query<DeliveryRow<unknown>>(this.q.deliveryById, [id])
    return rows[0] && deliveryFrom(rows[0], parsed)
  }

  async pendingByRelay(): Promise<Record<string, number>> {
    const { rows } = await this.query<{ relay: string; n: number }>(this.q.pendingByRelay, [])
    return pendingByRelayFrom(rows)
  }

  listConversations(filter: ConversationFilter): Promise<ConversationSummary[]> {
    return this.admin.listConversations(filter)
  }

  listMessages(
    source: string,
    conversationId: string,
    options?: { afterSeq?: number; limit?: number }
  ): Promise<StoredMessage[]> {
    return this.admin.listMessages(source, conversationId, options)
  }

  replayDead(selector: DeadLetterSelector, now: number): Promise<number> {
    return this.admin.replayDead(selector, now)
  }

  dropDead(selector: DeadLetterSelector): Promise<number> {
    return this.admin.dropDead(selector)
  }

  replayConversation(source: string, conversationId: string, relay: string, now: number): Promise<number> {
    return this.admin.replayConversation(source, conversationId, relay, now)
  }

  listAttempts(deliveryIds: number[]): Promise<DeliveryAttempt[]> {
    return this.admin.listAttempts(deliveryIds)
  }

  backlog(): Promise<BacklogStats> {
    return this.admin.backlog()
  }

  prune(before: number): Promise<PruneResult> {
    return this.admin.prune(before)
  }

  async stateGet(relay: string, source: string, conversationId: string, key: string): Promise<unknown> {
    const { rows } = await this.query<{ value: unknown }>(this.q.stateGet, [relay, source, conversationId, key])
    // A stored JSON null is a row whose value is null; no row is undefined.
    return rows.length === 0 ? undefined : rows[0]!.value
  }

  async stateSet(relay: string, source: string, conversationId: string, key: string, value: unknown): Promise<void> {
    await this.query(this.q.stateSet, [relay, source, conversationId, key, JSON.stringify(value)])
  }

  async stateDelete(relay: string, source: string, conversationId: string, key: string): Promise<void> {
    await this.query(this.q.stateDelete, [relay, source, conversationId, key])
  }

  /** Wakes `wake` when another replica stores a message: a LISTEN connection, opened for the first watcher. */
  watch(wake: () => void): () => void {
    this.watchers.add(wake)
    this.listener ??= new NotificationListener(this.url, this.channel, this.self, () => {
      for (const watcher of this.watchers) watcher()
    })
    return () => {
      this.watchers.delete(wake)
      if (this.watchers.size > 0 || !this.listener) return
      void this.listener.close()
      this.listener = undefined
    }
  }

  async ping(): Promise<void> {
    const { rows } = await this.query<{ standby: boolean }>(this.q.ping, [])
    if (rows[0]?.standby)
      throw new Error(
        `PostgreSQL at ${describeTarget(this.url)} is a read-only standby; point store.url at the primary`
      )
  }

  /** Waits for messages being stored, then closes every connection. Safe to call more than once. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.committing
      await Promise.all([this.pool.end(), this.acceptPool.end(), this.listener?.close()])
    })()
    return this.closing
  }
}

/** Opens the store and migrates its schema; the relay starts only on an up-to-date schema. */
export async function openPostgresStore(options: PostgresStoreOptions): Promise<PostgresStore> {
  const store = new PostgresStore(options)
  try {
    await store.migrate()
  } catch (error) {
    await store.close()
    throw error
  }
  return store
}
