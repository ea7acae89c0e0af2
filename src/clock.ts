import { setTimeout as sleep } from 'node:timers/promises'

/**
 * Where the relay reads the time and waits: the dispatcher, the admin API and every relay
 * (`RelayInit.clock`, custom ones included) use this one, so a test can move time for all of them.
 */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number
  /** Resolves after `ms`, or rejects with the signal's reason once it aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) => sleep(ms, undefined, { signal })
}
