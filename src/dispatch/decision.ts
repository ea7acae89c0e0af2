import type { Undelivered } from '../relays/types.js'
import { backoffDelay } from './backoff.js'

/** The part of the dispatch policy the decision reads. */
export interface RetryPolicy {
  maxAttempts: number
  backoffBaseMs: number
  backoffMaxMs: number
}

/**
 * What becomes of a message that did not go: tried again in `inMs`, dead-lettered, or its relay
 * held (nothing written, no attempt spent: the relay's lanes wait until it can deliver again).
 */
export type Decision =
  | { action: 'retry'; error: string; inMs: number }
  | { action: 'dead'; error: string }
  | { action: 'hold'; error: string }

/**
 * The one place that decides retry, hold or dead letter, for every outcome a relay reports. Pure:
 * `attempt` is the try that just failed (1 for the first), `random` the backoff's jitter. Each kind
 * of outcome is mapped here, so a new kind must say which of the three it is.
 */
export function decide(outcome: Undelivered, attempt: number, policy: RetryPolicy, random: () => number): Decision {
  switch (outcome.status) {
    case 'held':
      return { action: 'hold', error: outcome.error }
    case 'failed':
      return { action: 'dead', error: outcome.error }
    case 'retry': {
      if (attempt >= policy.maxAttempts)
        return { action: 'dead', error: `gave up after ${attempt} attempts: ${outcome.error}` }
      const inMs =
        outcome.retryAfterMs === undefined
          ? backoffDelay(attempt, { baseMs: policy.backoffBaseMs, maxMs: policy.backoffMaxMs }, random)
          : Math.max(outcome.retryAfterMs, 0)
      return { action: 'retry', error: outcome.error, inMs }
    }
    default: {
      // A relay written in JavaScript may report a status no type knows: a failed try, retried.
      const { error } = outcome as { error?: unknown }
      return decide({ status: 'retry', error: String(error) }, attempt, policy, random)
    }
  }
}
