import type { Outbox, ClaimOptions, FinalOutcome, Lane, PendingDelivery, RunRecord } from '../../src/store/types.js'

/*
 * The outbox's steps one at a time, written on its one interface for runs (claimRuns, readRun,
 * recordRun), so that the store contract tests can say what they check step by step.
 */

/** Leases due lanes, as claimRuns does, and answers the lanes alone. */
export async function claimLanes(store: Pick<Outbox, 'claimRuns'>, options: ClaimOptions): Promise<Lane[]> {
  return (await store.claimRuns(options)).runs.map(r => r.lane)
}

/** The lane's oldest pending delivery, or undefined when it has none. */
export async function headOf(store: Pick<Outbox, 'readRun'>, laneId: number): Promise<PendingDelivery | undefined> {
  return (await store.readRun(laneId, 1))[0]
}

/** The lane's pending deliveries, oldest first, at most `limit`. */
export function pendingRun(store: Pick<Outbox, 'readRun'>, laneId: number, limit: number): Promise<PendingDelivery[]> {
  return store.readRun(laneId, limit)
}

/** A final outcome for one delivery, and the lane's next head for `owner` (a run of one). */
export async function finishAndNext(
  store: Pick<Outbox, 'recordRun'>,
  delivery: PendingDelivery,
  outcome: FinalOutcome,
  owner: string,
  now: number
): Promise<PendingDelivery | undefined> {
  const record: RunRecord =
    outcome.status === 'delivered'
      ? { delivered: [{ delivery, posted: outcome.posted }] }
      : { delivered: [], next: { delivery, status: 'dead', error: outcome.error } }
  return (await store.recordRun(record, owner, now, 1))[0]
}

/** A run's outcome and the lane's next run for `owner`. */
export function finishBatch(
  store: Pick<Outbox, 'recordRun'>,
  record: RunRecord,
  owner: string,
  now: number,
  limit: number
): Promise<PendingDelivery[]> {
  return store.recordRun(record, owner, now, limit)
}

/** No claim uses this owner: a retry recorded with it leaves the lane's lease alone. */
const bystander = 'outbox-steps-bystander'

/** A failed attempt, to be tried again at `dueAt`; the lane's lease is left as it is. */
export async function recordRetry(
  store: Pick<Outbox, 'recordRun'>,
  delivery: PendingDelivery,
  error: string,
  dueAt: number,
  now: number
): Promise<void> {
  await store.recordRun({ delivered: [], next: { delivery, status: 'retry', error, dueAt } }, bystander, now, 1)
}
