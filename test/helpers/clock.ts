import type { Clock } from '../../src/clock.js'

/**
 * A clock that only moves when told to, for the core and relays alike. Its sleeps return at once,
 * moving time forward instead, so pacing and Retry-After tests run instantly.
 */
export class ManualClock implements Clock {
  constructor(public time = Date.UTC(2026, 0, 1)) {}

  // Arrow functions: a test may hand `clock.now` on its own (a fake's time source).
  readonly now = (): number => this.time

  /** How long each sleep asked to wait, in order. */
  readonly sleeps: number[] = []

  readonly sleep = async (ms: number, signal?: AbortSignal): Promise<void> => {
    signal?.throwIfAborted()
    const until = this.time + Math.max(0, ms)
    this.sleeps.push(ms)
    await Promise.resolve()
    this.time = Math.max(this.time, until)
  }

  advance(ms: number): void {
    this.time += ms
  }

  set(time: number): void {
    this.time = time
  }
}
