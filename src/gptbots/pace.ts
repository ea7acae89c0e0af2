import type { Clock } from '../clock.js'

/**
 * A token bucket: `burst` calls may go at once, then one per `60 000 / perMinute` ms. Callers
 * wait their turn in order, on the injected clock, so tests move time instead of sleeping.
 */
export class TokenBucket {
  private tokens: number
  private at: number
  private queue: Promise<void> = Promise.resolve()

  constructor(
    private readonly clock: Clock,
    private readonly pace: { perMinute: number; burst: number }
  ) {
    this.tokens = pace.burst
    this.at = clock.now()
  }

  /** Resolves when a call may go; rejects when `signal` aborts first. */
  take(signal?: AbortSignal): Promise<void> {
    const turn = this.queue.then(() => this.wait(signal))
    // A caller that gave up does not hold the others back.
    this.queue = turn.catch(() => undefined)
    return turn
  }

  /** No call goes before `until` (a 429's Retry-After said so), and then one at a time at the pace. */
  pauseUntil(until: number): void {
    this.refill()
    this.tokens = Math.min(this.tokens, 1)
    this.at = Math.max(this.at, until)
  }

  private refill(): void {
    const now = this.clock.now()
    if (now <= this.at) return
    this.tokens = Math.min(this.pace.burst, this.tokens + ((now - this.at) * this.pace.perMinute) / 60_000)
    this.at = now
  }

  private async wait(signal?: AbortSignal): Promise<void> {
    for (;;) {
      signal?.throwIfAborted()
      const now = this.clock.now()
      if (now < this.at) {
        await this.clock.sleep(this.at - now, signal)
        continue
      }
      this.refill()
      if (this.tokens >= 1) {
        this.tokens -= 1
        return
      }
      await this.clock.sleep(Math.max(1, Math.ceil(((1 - this.tokens) * 60_000) / this.pace.perMinute)), signal)
    }
  }
}
