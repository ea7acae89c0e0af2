import type { DeliveryOutcome, RelayLogger, RunOutcome, Undelivered } from '../relays/types.js'
import type { Outbox, PendingDelivery, RunNext } from '../store/types.js'
import { decide, type RetryPolicy } from './decision.js'

/** What happened to one delivery attempt, for logs and metrics. */
export interface AttemptEvent {
  relay: string
  delivery: PendingDelivery
  outcome: DeliveryOutcome | { status: 'dead'; error: string }
  /** The whole call's duration: for a run of several, each of its messages reports the same. */
  durationMs: number
  /** Set when the message went in a run of several: how many were offered, and its place (0 for the head). */
  batch?: { size: number; index: number }
}

/** After a run: the lane's next run (empty when the lane is done for now) and whether the store gave it back already. */
export type Step = { next: PendingDelivery[]; released: boolean } | 'stop'

export interface RecorderOptions {
  store: Pick<Outbox, 'recordRun'>
  owner: string
  logger: RelayLogger
  policy(): RetryPolicy
  random: () => number
  now(): number
  scrub?(text: string): string
  onAttempt?(event: AttemptEvent): void
  /** The relay refused for want of credentials (a `hold` decision): its lanes wait. */
  hold(delivery: PendingDelivery, error: string, durationMs: number): void
}

/** A relay's report checked against what it was offered: a prefix at most as long, and a reason when nothing went. */
export function settle(
  offered: PendingDelivery[],
  reported: RunOutcome,
  logger: RelayLogger
): { delivered: RunOutcome['delivered']; first?: PendingDelivery; next?: Undelivered } {
  let delivered = Array.isArray(reported.delivered) ? reported.delivered : []
  if (delivered.length > offered.length) {
    logger.error(
      { relay: offered[0]?.relay, offered: offered.length, reported: delivered.length },
      'relay reported more messages delivered than it was offered; the extra are ignored'
    )
    delivered = delivered.slice(0, offered.length)
  }
  const first = offered[delivered.length]
  if (!first) return { delivered }
  // Nothing delivered and no reason given: counted as a failed try, or the lane would spin.
  if (delivered.length === 0 && !reported.next)
    return {
      delivered,
      first,
      next: { status: 'retry', error: 'the relay delivered none of the messages offered and said not why' }
    }
  return { delivered, first, next: reported.next }
}

/**
 * Writes down what became of a run, per message, in one store call: the delivered prefix, then
 * the first undelivered message's retry or dead letter, as `decide` says; a hold writes the prefix
 * (if any) and holds the relay. Logs and reports each message's attempt.
 */
export class RunRecorder {
  constructor(private readonly options: RecorderOptions) {}

  async record(offered: PendingDelivery[], reported: RunOutcome, durationMs: number, runLimit: number): Promise<Step> {
    const { logger, onAttempt } = this.options
    const now = this.options.now()
    const { delivered, first, next: undelivered } = settle(offered, reported, logger)
    const decision =
      first && undelivered
        ? decide(
            { ...undelivered, error: this.options.scrub?.(undelivered.error) ?? undelivered.error },
            first.attempts + 1,
            this.options.policy(),
            this.options.random
          )
        : undefined
    // Held with nothing delivered: there is nothing to write (the store refuses an empty record),
    // and a store error here would release the lane unheld, to be claimed and posted again at once.
    if (first && delivered.length === 0 && decision?.action === 'hold') {
      this.options.hold(first, decision.error, durationMs)
      return 'stop'
    }
    let next: RunNext | undefined
    if (first && decision?.action === 'dead') next = { delivery: first, status: 'dead', error: decision.error }
    if (first && decision?.action === 'retry')
      next = { delivery: first, status: 'retry', error: decision.error, dueAt: now + decision.inMs }
    const following = await this.options.store.recordRun(
      { delivered: delivered.map((posted, i) => ({ delivery: offered[i] as PendingDelivery, posted })), next },
      this.options.owner,
      now,
      runLimit
    )
    const batch = (index: number) => (offered.length > 1 ? { batch: { size: offered.length, index } } : {})
    delivered.forEach((posted, index) => {
      const delivery = offered[index] as PendingDelivery
      logger.info({ ...fields(delivery), posted, ...batch(index) }, 'delivered')
      onAttempt?.({
        relay: delivery.relay,
        delivery,
        outcome: { status: 'delivered', posted },
        durationMs,
        ...batch(index)
      })
    })
    if (!first || !undelivered || !decision) return { next: following, released: following.length === 0 }
    const index = delivered.length
    switch (decision.action) {
      case 'hold':
        this.options.hold(first, decision.error, durationMs)
        return 'stop'
      case 'dead':
        logger.error({ ...fields(first), error: decision.error, ...batch(index) }, 'dead-lettered')
        onAttempt?.({
          relay: first.relay,
          delivery: first,
          outcome: { status: 'dead', error: decision.error },
          durationMs,
          ...batch(index)
        })
        return { next: following, released: following.length === 0 }
      case 'retry':
        logger.warn(
          { ...fields(first), error: undelivered.error, retryInMs: decision.inMs, ...batch(index) },
          'delivery failed; will retry'
        )
        onAttempt?.({ relay: first.relay, delivery: first, outcome: undelivered, durationMs, ...batch(index) })
        // The store gave the lane back with the retry: it is due again at the retry's time.
        return { next: [], released: true }
    }
  }
}

function fields(delivery: PendingDelivery) {
  return {
    relay: delivery.relay,
    conversationId: delivery.message.conversationId,
    messageId: delivery.message.messageId,
    attempt: delivery.attempts + 1
  }
}
