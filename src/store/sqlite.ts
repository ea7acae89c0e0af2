import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import Database from 'better-sqlite3'
import type { RelayMessage } from '../message.js'
import { SqliteOutboxAdmin } from './sqlite-admin.js'
import { SqliteBackfillRecords } from './sqlite-backfill.js'
import { migrateSqlite } from './sqlite-schema.js'
import { GroupCommit, type SyncFile } from './sqlite-commit.js'
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
  Lane,
  PendingDelivery,
  PruneResult,
  RunRecord,
  Store,
  StoredMessage
} from './types.js'

export interface SqliteStoreOptions {
  path: string
  /** FULL: an accepted message survives power loss; NORMAL: a process crash only. Delivery bookkeeping is written as with NORMAL either way. */
  synchronous?: 'FULL' | 'NORMAL'
  /** How the WAL is flushed to disk (node:fs fsync); tests hold or fail it. */
  syncFile?: SyncFile
}

const listDeliveries = (db: Database.Database, where: string, index = '') =>
  db.prepare(`SELECT d.id, d.seq, d.relay, m.source, m.conversation_id AS conversationId, m.message_id AS messageId,
      m.type, d.status, d.attempts, d.last_error AS lastError, d.posted, d.created_at AS createdAt, d.updated_at AS updatedAt
    FROM deliveries d ${index} JOIN messages m ON m.seq = d.seq
    WHERE ${where} AND d.id > @afterId AND (@status IS NULL OR d.status = @status) AND (@relay IS NULL OR d.relay = @relay)
      AND (@source IS NULL OR m.source = @source) AND (@conversationId IS NULL OR m.conversation_id = @conversationId)
      AND (@seqFrom IS NULL OR m.seq >= @seqFrom) AND (@seqTo IS NULL OR m.seq <= @seqTo)
    ORDER BY d.id LIMIT @limit`)

const fromText = (json: string): unknown => JSON.parse(json)

/**
 * The embedded store: one SQLite file in WAL mode, owned by one relay process (the file is opened
 * in exclusive locking mode, so a second process cannot deliver from it and break ordering).
 */
export class SqliteStore implements Store {
  private readonly db: Database.Database
  private readonly writes: GroupCommit
  private readonly q
  private readonly admin: SqliteOutboxAdmin
  private readonly backfills: SqliteBackfillRecords

  constructor(options: SqliteStoreOptions) {
    if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true })
    this.db = new Database(options.path, { timeout: 5000 })
    this.db.pragma('locking_mode = EXCLUSIVE')
    this.db.pragma('journal_mode = WAL')
    // No commit waits for the disk on the event loop. With FULL, the WAL is flushed after each
    // commit that holds an accept, in libuv's thread pool, and the accepts are answered after (flush()).
    this.db.pragma('synchronous = NORMAL')
    // Each write's savepoint journals into memory instead of a temporary file per commit.
    this.db.pragma('temp_store = MEMORY')
    this.db.pragma('foreign_keys = ON')
    try {
      migrateSqlite(this.db)
    } catch (error) {
      // A file this code cannot use is let go, not held locked until the process ends.
      this.db.close()
      throw error
    }
    const flushWal = (options.synchronous ?? 'FULL') === 'FULL' && options.path !== ':memory:'
    this.writes = new GroupCommit(this.db, { walPath: flushWal ? options.path : undefined, syncFile: options.syncFile })
    // Leases only matter between processes sharing a store; this file has one owner, so whatever
    // a previous run held is free again.
    this.db.exec('UPDATE lanes SET owner = NULL, lease_until = NULL WHERE owner IS NOT NULL')
    const db = this.db
    this.q = {
      insertMessage: db.prepare(`INSERT INTO messages (source, message_id, type, conversation_id, payload, received_at)
        VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING seq`),
      upsertLane: db.prepare(`INSERT INTO lanes (relay, source, conversation_id, pending, due_at) VALUES (?, ?, ?, 1, ?)
        ON CONFLICT (relay, source, conversation_id) DO UPDATE SET pending = pending + 1, due_at = COALESCE(due_at, excluded.due_at)
        RETURNING id`),
      insertDelivery: db.prepare(
        `INSERT INTO deliveries (seq, lane_id, relay, created_at, updated_at) VALUES (?, ?, ?, ?, ?)`
      ),
      dueLanes: db.prepare(`SELECT id, relay, source, conversation_id AS conversationId FROM lanes
        WHERE due_at IS NOT NULL AND due_at <= @now AND (owner IS NULL OR lease_until < @now)
          AND relay IN (SELECT value FROM json_each(@relays))
        ORDER BY due_at LIMIT @limit`),
      lease: db.prepare('UPDATE lanes SET owner = ?, lease_until = ? WHERE id = ?'),
      renew: db.prepare('UPDATE lanes SET lease_until = ? WHERE id = ? AND owner = ?'),
      release: db.prepare('UPDATE lanes SET owner = NULL, lease_until = NULL WHERE id = ? AND owner = ?'),
      laneOwner: db.prepare('SELECT owner FROM lanes WHERE id = ?'),
      run: db.prepare(`SELECT d.id, d.lane_id, d.relay, d.seq, d.attempts, m.payload FROM deliveries d
        JOIN messages m ON m.seq = d.seq WHERE d.lane_id = ? AND d.status = 'pending' ORDER BY d.id LIMIT ?`),
      advanceLaneBy: db.prepare(
        'UPDATE lanes SET pending = pending - @n, due_at = CASE WHEN pending > @n THEN @now ELSE NULL END WHERE id = @id'
      ),
      finish:
        db.prepare(`UPDATE deliveries SET status = ?, attempts = attempts + 1, last_error = COALESCE(?, last_error), posted = ?, updated_at = ?
        WHERE id = ? AND status = 'pending'`),
      failAttempt: db.prepare(
        `UPDATE deliveries SET attempts = attempts + 1, last_error = ?, updated_at = ? WHERE id = ? AND status = 'pending'`
      ),
      delayLane: db.prepare('UPDATE lanes SET due_at = ? WHERE id = ?'),
      nextDue:
        db.prepare(`SELECT MIN(CASE WHEN owner IS NULL OR lease_until < @now THEN due_at ELSE MAX(due_at, lease_until) END) AS due
        FROM lanes WHERE due_at IS NOT NULL AND relay IN (SELECT value FROM json_each(@relays))`),
      // One statement per index that can serve a listing: all deliveries in id order, dead letters
      // (a partial index), and one conversation's (through its messages; BETWEEN lets a page's seq
      // range be a seek, which the optional filters written with OR cannot be).
      listDeliveries: listDeliveries(db, 'TRUE'),
      listDead: listDeliveries(db, `d.status = 'dead'`, 'INDEXED BY deliveries_dead'),
      listConversation: listDeliveries(
        db,
        'm.source = @source AND m.conversation_id = @conversationId AND m.seq BETWEEN COALESCE(@seqFrom, 0) AND COALESCE(@seqTo, 9223372036854775807)'
      ),
      deliveryById: listDeliveries(db, 'd.id = @id'),
      pendingByRelay: db.prepare('SELECT relay, SUM(pending) AS n FROM lanes WHERE pending > 0 GROUP BY relay'),
      stateGet: db.prepare(
        'SELECT value FROM relay_state WHERE relay = ? AND source = ? AND conversation_id = ? AND key = ?'
      ),
      stateSet: db.prepare(`INSERT INTO relay_state (relay, source, conversation_id, key, value) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (relay, source, conversation_id, key) DO UPDATE SET value = excluded.value`),
      stateDelete: db.prepare(
        'DELETE FROM relay_state WHERE relay = ? AND source = ? AND conversation_id = ? AND key = ?'
      )
    }
    this.admin = new SqliteOutboxAdmin(db)
    this.backfills = new SqliteBackfillRecords(db, work => this.write(work, false))
  }

  accept(message: RelayMessage, destinations: string[]): Promise<AcceptResult> {
    return this.write(() => {
      const row = this.q.insertMessage.get(
        message.source,
        message.messageId,
        message.type,
        message.conversationId,
        JSON.stringify(message),
        message.receivedAt
      ) as { seq: number } | undefined
      if (!row) return { duplicate: true }
      for (const relay of destinations) {
        const lane = this.q.upsertLane.get(relay, message.source, message.conversationId, message.receivedAt) as {
          id: number
        }
        this.q.insertDelivery.run(row.seq, lane.id, relay, message.receivedAt, message.receivedAt)
      }
      return { duplicate: false, seq: row.seq }
    }, true)
  }

  private write<T>(work: () => T, durable: boolean): Promise<T> {
    return this.writes.write(work, durable)
  }

  /** Resolves once an operator's change, committed just now outside the write queue, is on disk. */
  private flushed(): Promise<void> {
    return this.writes.flushed()
  }

  /** The lanes, their runs, any emptied lane's release and the next due time, in one savepoint. */
  async claimRuns({ owner, now, limit, leaseMs, relays, runLimits = {} }: ClaimOptions): Promise<Claimed> {
    if (relays.length === 0) return { runs: [] }
    return this.write(() => {
      const runs = []
      const relayList = JSON.stringify(relays)
      const lanes = limit > 0 ? (this.q.dueLanes.all({ now, limit, relays: relayList }) as Lane[]) : []
      for (const lane of lanes) {
        const rows = this.q.run.all(lane.id, runLimitOf(runLimits, lane.relay)) as HeadRow<string>[]
        if (rows.length === 0) continue
        this.q.lease.run(owner, now + leaseMs, lane.id)
        runs.push({ lane, run: rows.map(row => pendingFrom(row, fromText)) })
      }
      const due = (this.q.nextDue.get({ now, relays: relayList }) as { due: number | null }).due
      return due === null ? { runs } : { runs, nextDueAt: due }
    }, false)
  }

  async renewLeases(owner: string, laneIds: number[], until: number): Promise<void> {
    await this.write(() => {
      for (const id of laneIds) this.q.renew.run(until, id, owner)
    }, false)
  }

  async releaseLane(laneId: number, owner: string): Promise<void> {
    await this.write(() => this.q.release.run(laneId, owner), false)
  }

  /** Read in the write queue, so that it is answered after the flush of any accept it sees. */
  readRun(laneId: number, limit: number): Promise<PendingDelivery[]> {
    return this.write(
      () => (this.q.run.all(laneId, limit) as HeadRow<string>[]).map(row => pendingFrom(row, fromText)),
      false
    )
  }

  /** The delivered prefix, the next outcome, then the lane's next run or its release, in one savepoint. */
  recordRun(record: RunRecord, owner: string, now: number, limit: number): Promise<PendingDelivery[]> {
    return this.write(() => {
      const laneId = runLaneOf(record)
      let finished = 0
      for (const { delivery, posted } of record.delivered)
        finished += this.q.finish.run(
          'delivered',
          null,
          posted === undefined ? null : JSON.stringify(posted),
          now,
          delivery.id
        ).changes
      const next = record.next
      if (next?.status === 'dead')
        finished += this.q.finish.run('dead', next.error, null, now, next.delivery.id).changes
      if (finished > 0) this.q.advanceLaneBy.run({ n: finished, now, id: laneId })
      if (next?.status === 'retry' && this.q.failAttempt.run(next.error, now, next.delivery.id).changes > 0)
        this.q.delayLane.run(next.dueAt, laneId)
      const lane = this.q.laneOwner.get(laneId) as { owner: string | null } | undefined
      if (lane?.owner !== owner) return []
      const rows = next?.status === 'retry' ? [] : (this.q.run.all(laneId, limit) as HeadRow<string>[])
      if (rows.length === 0) this.q.release.run(laneId, owner)
      return rows.map(row => pendingFrom(row, fromText))
    }, false)
  }

  async nextDueAt(relays: string[], now: number): Promise<number | undefined> {
    const row = this.q.nextDue.get({ now, relays: JSON.stringify(relays) }) as { due: number | null }
    return row.due ?? undefined
  }

  async listDeliveries(filter: DeliveryFilter): Promise<DeliveryRecord[]> {
    const statement =
      filter.source !== undefined && filter.conversationId !== undefined
        ? this.q.listConversation
        : filter.status === 'dead'
          ? this.q.listDead
          : this.q.listDeliveries
    const rows = statement.all({
      afterId: filter.afterId ?? 0,
      limit: filter.limit ?? 100,
      status: filter.status ?? null,
      relay: filter.relay ?? null,
      source: filter.source ?? null,
      conversationId: filter.conversationId ?? null,
      seqFrom: filter.seqFrom ?? null,
      seqTo: filter.seqTo ?? null
    }) as DeliveryRow<string>[]
    return rows.map(row => deliveryFrom(row, fromText))
  }

  async deliveryById(id: number): Promise<DeliveryRecord | undefined> {
    const row = this.q.deliveryById.get({
      id,
      afterId: 0,
      limit: 1,
      status: null,
      relay: null,
      source: null,
      conversationId: null,
      seqFrom: null,
      seqTo: null
    }) as DeliveryRow<string> | undefined
    return row && deliveryFrom(row, fromText)
  }

  async pendingByRelay(): Promise<Record<string, number>> {
    return pendingByRelayFrom(this.q.pendingByRelay.all() as { relay: string; n: number }[])
  }

  async listConversations(filter: ConversationFilter): Promise<ConversationSummary[]> {
    return this.admin.listConversations(filter)
  }

  async listMessages(
    source: string,
    conversationId: string,
    options?: { afterSeq?: number; limit?: number }
  ): Promise<StoredMessage[]> {
    return this.admin.listMessages(source, conversationId, options)
  }

  // An operator's change is answered once it is on disk, like an accept.
  async replayDead(selector: DeadLetterSelector, now: number): Promise<number> {
    const count = this.admin.replayDead(selector, now)
    await this.flushed()
    return count
  }

  async dropDead(selector: DeadLetterSelector): Promise<number> {
    const count = this.admin.dropDead(selector)
    await this.flushed()
    return count
  }

  async replayConversation(source: string, conversationId: string, relay: string, now: number): Promise<number> {
    const count = this.admin.replayConversation(source, conversationId, relay, now)
    await this.flushed()
    return count
  }

  async listAttempts(deliveryIds: number[]): Promise<DeliveryAttempt[]> {
    return this.admin.listAttempts(deliveryIds)
  }

  async backlog(): Promise<BacklogStats> {
    return this.admin.backlog()
  }

  prune(before: number): Promise<PruneResult> {
    return this.admin.prune(before)
  }

  async stateGet(relay: string, source: string, conversationId: string, key: string): Promise<unknown> {
    const row = this.q.stateGet.get(relay, source, conversationId, key) as { value: string } | undefined
    return row === undefined ? undefined : JSON.parse(row.value)
  }

  async stateSet(relay: string, source: string, conversationId: string, key: string, value: unknown): Promise<void> {
    const json = JSON.stringify(value)
    await this.write(() => this.q.stateSet.run(relay, source, conversationId, key, json), false)
  }

  async stateDelete(relay: string, source: string, conversationId: string, key: string): Promise<void> {
    await this.write(() => this.q.stateDelete.run(relay, source, conversationId, key), false)
  }

  /**
   * Ready means able to take a message: a write goes through the queue like an accept (a row of
   * relay state, written and removed in one savepoint), so a full disk or a read-only file
   * system fails the check, and the check itself notices when they are gone (a check that only
   * remembered failed accepts would stay failed with no traffic to clear it, and a load balancer
   * sends none to a replica that is not ready). A write committed with the probe that failed for
   * want of space fails it too.
   */
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
    if (this.writes.broken) throw this.writes.broken
    await this.write(() => {
      this.q.stateSet.run('', '', '', 'readiness-probe', JSON.stringify('x'.repeat(4096)))
      this.q.stateDelete.run('', '', '', 'readiness-probe')
    }, false)
    const failure = this.writes.writeFailure
    if (failure) throw new Error(`the store cannot take writes: ${failure.message}`)
  }

  async close(): Promise<void> {
    await this.writes.close()
    if (this.db.open) this.db.close()
  }
}
