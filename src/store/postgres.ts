import { randomUUID } from 'node:crypto'
import pg from 'pg'
import type { RelayMessage } from '../message.js'
import { acceptBatch, acceptStatements, type Accepting } from './postgres-accept.js'
import { PostgresOutboxAdmin } from './postgres-admin.js'
import { PostgresBackfillRecords } from './postgres-backfill.js'
import { connect, createPool, describeTarget, inTransaction, type PostgresPoolOptions } from './postgres-connection.js'
import { channelFor, NotificationListener } from './postgres-listen.js'
import { migrate } from './postgres-schema.js'
import {
  type DeliveryRow,
  deliveryFrom,
  type HeadRow,
  pendingByRelayFrom,
  pendingFrom,
  runLaneOf,
  runLimitOf
} from './shared.js'
import type {
  AcceptResult,
  BackfillJob,
  BacklogStats,
  Claimed,
  DeliveryAttempt,
  ClaimOptions,
  ConversationFilter,
  ConversationSummary,
  DeadLetterSelector,
  DeliveryFilter,
  DeliveryRecord,
  LaneRun,
  PendingDelivery,
  PruneResult,
  RunRecord,
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
  private readonly backfills: PostgresBackfillRecords
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
    this.backfills = new PostgresBackfillRecords((text, values) => this.query(text, values), s)
    this.q = {
      // FOR UPDATE SKIP LOCKED: replicas claiming at once each take different lanes instead of
      // waiting for one another. A lane another replica leased after our snapshot is re-checked
      // under the row lock and dropped, so a lane never gets two owners. Each lane comes with its
      // run (at most its relay's limit, $6 and $7), and the one row for no lane still says when the
      // next lane not claimed here falls due: the claimant's whole look at the store in one statement.
      claim: `WITH due AS (
          SELECT id FROM ${s}.lanes
          WHERE due_at IS NOT NULL AND due_at <= $1 AND (owner IS NULL OR lease_until < $1) AND relay = ANY($2::text[])
          ORDER BY due_at, id LIMIT $3
          FOR UPDATE SKIP LOCKED
        ), claimed AS (
          UPDATE ${s}.lanes l SET owner = $4, lease_until = $5 FROM due WHERE l.id = due.id
          RETURNING l.id, l.relay, l.source, l.conversation_id, l.due_at
        ), later AS (
          SELECT MIN(CASE WHEN owner IS NULL OR lease_until < $1 THEN due_at ELSE GREATEST(due_at, lease_until) END) AS due
          FROM ${s}.lanes WHERE due_at IS NOT NULL AND relay = ANY($2::text[]) AND id NOT IN (SELECT id FROM due)
        )
        SELECT later.due AS next_due, c.id AS lane, c.relay AS lane_relay, c.source, c.conversation_id, c.due_at,
          r.id, r.lane_id, r.relay, r.seq, r.attempts, r.payload
        FROM later LEFT JOIN (claimed c LEFT JOIN LATERAL (
          SELECT d.id, d.lane_id, d.relay, d.seq, d.attempts, m.payload
          FROM ${s}.deliveries d JOIN ${s}.messages m ON m.seq = d.seq
          WHERE d.lane_id = c.id AND d.status = 'pending' ORDER BY d.id
          LIMIT COALESCE((SELECT x.n FROM unnest($6::text[], $7::int[]) AS x (relay, n) WHERE x.relay = c.relay), 1)
        ) r ON true) ON true`,
      renew: `UPDATE ${s}.lanes SET lease_until = $1 WHERE id = ANY($2::bigint[]) AND owner = $3`,
      release: `UPDATE ${s}.lanes SET owner = NULL, lease_until = NULL WHERE id = $1 AND owner = $2`,
      run: `SELECT d.id, d.lane_id, d.relay, d.seq, d.attempts, m.payload
        FROM ${s}.deliveries d JOIN ${s}.messages m ON m.seq = d.seq
        WHERE d.lane_id = $1 AND d.status = 'pending' ORDER BY d.id LIMIT $2`,
      // A run's outcome, then the lane's next run, in one statement. Every part reads the snapshot
      // taken when the statement began, so `next` skips the deliveries being recorded by id. A
      // delivery acknowledged after that snapshot is not seen; its accept has set the lane due, so
      // the lane, released here, is claimed again at once. One UPDATE of the lane row does the
      // bookkeeping and, when nothing is next (or after a retry), the release, under the row lock
      // that accepts take too: the owner check is made on the current row, so a replica that lost
      // the lane gets nothing and releases nothing. Only deliveries still pending count: two
      // replicas may both report one delivery (a lease ran out), and the lane must move on once.
      record: `WITH delivered AS (
          UPDATE ${s}.deliveries d SET status = 'delivered', attempts = d.attempts + 1, posted = v.posted::json, updated_at = $3
          FROM unnest($1::bigint[], $2::text[]) AS v (id, posted)
          WHERE d.id = v.id AND d.status = 'pending' RETURNING d.id
        ), dead AS (
          UPDATE ${s}.deliveries SET status = 'dead', attempts = attempts + 1, last_error = $5, updated_at = $3
          WHERE id = $4::bigint AND status = 'pending' RETURNING id
        ), failed AS (
          UPDATE ${s}.deliveries SET attempts = attempts + 1, last_error = $7, updated_at = $3
          WHERE id = $6::bigint AND status = 'pending' RETURNING id
        ), next AS (
          SELECT d.id, d.lane_id, d.relay, d.seq, d.attempts, m.payload
          FROM ${s}.deliveries d JOIN ${s}.messages m ON m.seq = d.seq
          WHERE d.lane_id = $9 AND d.status = 'pending' AND d.id <> ALL($12::bigint[]) AND $6::bigint IS NULL
          ORDER BY d.id LIMIT $11
        ), done AS (
          SELECT (SELECT count(*) FROM delivered)::int + (SELECT count(*) FROM dead)::int AS n,
            EXISTS (SELECT FROM failed) AS retried, NOT EXISTS (SELECT FROM next) AS empty
        ), lane AS (
          UPDATE ${s}.lanes l SET pending = l.pending - done.n,
            due_at = CASE WHEN done.retried THEN $8::bigint WHEN done.n = 0 THEN l.due_at
              WHEN l.pending > done.n THEN $3::bigint ELSE NULL END,
            owner = CASE WHEN l.owner = $10 AND done.empty THEN NULL ELSE l.owner END,
            lease_until = CASE WHEN l.owner = $10 AND done.empty THEN NULL ELSE l.lease_until END
          FROM done WHERE l.id = $9 AND (done.n > 0 OR done.retried OR l.owner = $10)
          RETURNING l.owner = $10 AS ours
        )
        SELECT next.* FROM next, lane WHERE lane.ours`,
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

  async claimRuns({ owner, now, limit, leaseMs, relays, runLimits = {} }: ClaimOptions): Promise<Claimed> {
    if (relays.length === 0) return { runs: [] }
    type Row = Partial<HeadRow<unknown>> & {
      next_due: number | null
      lane: number | null
      lane_relay: string
      source: string
      conversation_id: string
      due_at: number
    }
    const { rows } = await this.query<Row>(this.q.claim, [
      now,
      relays,
      Math.max(0, limit),
      owner,
      now + leaseMs,
      relays,
      relays.map(relay => runLimitOf(runLimits, relay))
    ])
    const byLane = new Map<number, LaneRun & { dueAt: number }>()
    for (const row of rows) {
      if (row.lane === null) continue
      let entry = byLane.get(row.lane)
      if (!entry) {
        const lane = { id: row.lane, relay: row.lane_relay, source: row.source, conversationId: row.conversation_id }
        entry = { lane, run: [], dueAt: row.due_at }
        byLane.set(row.lane, entry)
      }
      if (row.id !== null && row.id !== undefined) entry.run.push(pendingFrom(row as HeadRow<unknown>, parsed))
    }
    // RETURNING has no order; hand out the longest-waiting lanes first, as the selection did.
    const claimed = [...byLane.values()].sort((a, b) => a.dueAt - b.dueAt || a.lane.id - b.lane.id)
    const runs: LaneRun[] = []
    for (const { lane, run } of claimed) {
      // Nothing pending any more: the lane is given back rather than held for nothing.
      if (run.length === 0) await this.releaseLane(lane.id, owner)
      else runs.push({ lane, run: run.sort((a, b) => a.id - b.id) })
    }
    const due = rows[0]?.next_due ?? null
    return due === null ? { runs } : { runs, nextDueAt: due }
  }

  async renewLeases(owner: string, laneIds: number[], until: number): Promise<void> {
    if (laneIds.length === 0) return
    await this.query(this.q.renew, [until, laneIds, owner])
  }

  async releaseLane(laneId: number, owner: string): Promise<void> {
    await this.query(this.q.release, [laneId, owner])
  }

  async readRun(laneId: number, limit: number): Promise<PendingDelivery[]> {
    const { rows } = await this.query<HeadRow<unknown>>(this.q.run, [laneId, limit])
    return rows.map(row => pendingFrom(row, parsed))
  }

  async recordRun(record: RunRecord, owner: string, now: number, limit: number): Promise<PendingDelivery[]> {
    const laneId = runLaneOf(record)
    const { next } = record
    const dead = next?.status === 'dead' ? next : undefined
    const retry = next?.status === 'retry' ? next : undefined
    const recorded = [...record.delivered.map(d => d.delivery.id), ...(next ? [next.delivery.id] : [])]
    const { rows } = await this.query<HeadRow<unknown>>(this.q.record, [
      record.delivered.map(d => d.delivery.id),
      record.delivered.map(d => (d.posted === undefined ? null : JSON.stringify(d.posted))),
      now,
      dead?.delivery.id ?? null,
      dead?.error ?? null,
      retry?.delivery.id ?? null,
      retry?.error ?? null,
      retry?.dueAt ?? null,
      laneId,
      owner,
      limit,
      recorded
    ])
    return rows.map(row => pendingFrom(row, parsed))
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

  takeLease(name: string, owner: string, now: number, until: number): Promise<boolean> {
    return this.backfills.takeLease(name, owner, now, until)
  }

  releaseLease(name: string, owner: string): Promise<void> {
    return this.backfills.releaseLease(name, owner)
  }

  lastReceivedAt(): Promise<number | undefined> {
    return this.backfills.lastReceivedAt()
  }

  saveBackfill(job: BackfillJob): Promise<void> {
    return this.backfills.saveBackfill(job)
  }

  backfill(id: string): Promise<BackfillJob | undefined> {
    return this.backfills.backfill(id)
  }

  listBackfills(limit: number): Promise<BackfillJob[]> {
    return this.backfills.listBackfills(limit)
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
