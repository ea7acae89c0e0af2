import type { RelayMessage } from '../message.js'
import type { Posted } from '../relays/types.js'
import type { BacklogStats, DeliveryRecord, PendingDelivery, PruneResult, RunRecord } from './types.js'

/**
 * What the SQLite and PostgreSQL stores share: turning rows into deliveries, folding the backlog
 * and the prune loop. Each store reads its own columns (SQLite keeps JSON as text, PostgreSQL
 * hands it back parsed), so the decoding of JSON columns is passed in.
 */

/** A pending delivery of a lane's run as both stores select it (`claimRuns`, `readRun`, `recordRun`). */
export interface HeadRow<Json> {
  id: number
  lane_id: number
  relay: string
  seq: number
  attempts: number
  payload: Json
}

export function pendingFrom<Json>(row: HeadRow<Json>, decode: (json: Json) => unknown): PendingDelivery {
  return {
    id: row.id,
    laneId: row.lane_id,
    relay: row.relay,
    seq: row.seq,
    attempts: row.attempts,
    message: decode(row.payload) as RelayMessage
  }
}

/** A delivery log row: optional fields come back as null. */
export type DeliveryRow<Json> = Omit<DeliveryRecord, 'posted' | 'lastError'> & {
  posted: Json | null
  lastError: string | null
}

/** Absent rather than null, as the record's optional fields say. */
export function deliveryFrom<Json>(
  { posted, lastError, ...row }: DeliveryRow<Json>,
  decode: (json: Json) => unknown
): DeliveryRecord {
  return {
    ...row,
    ...(lastError === null ? {} : { lastError }),
    ...(posted === null ? {} : { posted: decode(posted) as Posted })
  }
}

/** How many of a lane's pending deliveries a claim reads with it: its relay's run limit, at least 1. */
export const runLimitOf = (limits: Record<string, number>, relay: string): number =>
  Math.max(1, Math.floor(limits[relay] ?? 1))

/** The one lane a run's record is about; a record that spans lanes, or none, is refused. */
export function runLaneOf(record: RunRecord): number {
  const laneIds = new Set([...record.delivered.map(d => d.delivery.laneId), record.next?.delivery.laneId])
  laneIds.delete(undefined)
  if (laneIds.size !== 1) throw new Error("a run's record holds one lane's messages")
  return [...laneIds][0] as number
}

/** One row of the backlog query both stores run: pending per relay, dead per relay, and the oldest pending per relay. */
export interface BacklogRow {
  kind: string
  relay: string | null
  n: number | null
}

export function backlogFrom(rows: BacklogRow[]): BacklogStats {
  const stats: BacklogStats = { pendingByRelay: {}, deadByRelay: {}, oldestPendingByRelay: {} }
  for (const row of rows) {
    if (row.kind === 'pending') stats.pendingByRelay[row.relay!] = row.n!
    else if (row.kind === 'dead') stats.deadByRelay[row.relay!] = row.n!
    else if (row.n !== null) {
      stats.oldestPendingByRelay[row.relay!] = row.n
      stats.oldestPendingAt = Math.min(stats.oldestPendingAt ?? row.n, row.n)
    }
  }
  return stats
}

export const pendingByRelayFrom = (rows: { relay: string; n: number }[]): Record<string, number> =>
  Object.fromEntries(rows.map(r => [r.relay, r.n]))

/** Where a prune run has got to: old messages are walked in (received_at, seq) order. */
export interface PruneCursor {
  afterAt: number
  afterSeq: number
}

/** What one prune batch removed, and the last message it looked at (undefined when it found none). */
export interface PruneBatch extends PruneResult {
  last?: { receivedAt: number; seq: number }
  /** How many messages the batch looked at: fewer than `pruneBatch` means none are left. */
  looked: number
}

/** Rows a pruning transaction removes at most, so that intake never waits long behind it. */
export const pruneBatch = 1000

/**
 * Prunes in batches of at most `pruneBatch` messages, each its own transaction, moving a cursor
 * so that the messages kept are read once. `between` runs between batches.
 */
export async function pruneInBatches(
  before: number,
  pruneOnce: (before: number, cursor: PruneCursor) => Promise<PruneBatch> | PruneBatch,
  between?: () => Promise<void>
): Promise<PruneResult> {
  const total: PruneResult = { messages: 0, deliveries: 0 }
  const cursor: PruneCursor = { afterAt: Number.MIN_SAFE_INTEGER, afterSeq: 0 }
  for (;;) {
    const batch = await pruneOnce(before, cursor)
    total.messages += batch.messages
    total.deliveries += batch.deliveries
    if (!batch.last || batch.looked < pruneBatch) return total
    cursor.afterAt = batch.last.receivedAt
    cursor.afterSeq = batch.last.seq
    await between?.()
  }
}
