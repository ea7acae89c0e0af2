import { setTimeout as sleep } from 'node:timers/promises'

/** Time as the pacer sees it; tests pass a clock they move by hand. */
export interface Clock {
  now(): number
  sleep(ms: number, signal?: AbortSignal): Promise<void>
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) => sleep(ms, undefined, { signal })
}

/** Thrown instead of waiting while Slack has asked the relay to leave a channel alone. */
export class ChannelHeld extends Error {
  constructor(readonly channel: string, readonly remainingMs: number) {
    super(`Slack asked to slow down on channel ${channel}: holding posts for ${Math.ceil(remainingMs / 1000)} s`)
    this.name = 'ChannelHeld'
  }
}

interface ChannelLane {
  /** When the channel is next free in a steady one-per-interval flow (GCRA's theoretical arrival time). */
  nextFree: number
  /** Until when Slack's Retry-After told us to stay away. */
  heldUntil: number
}

/**
 * Keeps posts to each channel near Slack's pace of about one per second, letting a short burst
 * through. Each post reserves a slot at once, so concurrent deliveries to a channel queue fairly;
 * channels never wait for each other.
 *
 * Queued messages are not combined: each relayed message is posted as its own Slack message(s),
 * because the core delivers one message per conversation at a time and records each delivery's
 * outcome; merging would blur which message reached Slack. Splitting the long ones is enough.
 */
export class ChannelPacer {
  readonly #lanes = new Map<string, ChannelLane>()

  constructor(
    private readonly clock: Clock,
    private readonly intervalMs: number,
    private readonly burst: number
  ) {}

  /**
   * Waits for this channel's next slot. While the channel is held after a 429 it throws
   * ChannelHeld rather than sleeping, so that the delivery goes back to the core's queue instead
   * of tying up a worker for the whole Retry-After.
   */
  async take(channel: string, signal?: AbortSignal): Promise<void> {
    const lane = this.#lane(channel)
    for (;;) {
      const now = this.clock.now()
      if (lane.heldUntil > now) throw new ChannelHeld(channel, lane.heldUntil - now)
      const slot = Math.max(now, lane.nextFree - this.#tolerance)
      lane.nextFree = Math.max(lane.nextFree, slot) + this.intervalMs
      if (slot <= now) return
      await this.clock.sleep(slot - now, signal)
      // A 429 seen by another delivery while this one slept holds it too.
      if (lane.heldUntil <= this.clock.now()) return
    }
  }

  /** Keeps the channel free of posts until `until`, then lets them resume at the steady pace, without a burst. */
  hold(channel: string, until: number): void {
    const lane = this.#lane(channel)
    lane.heldUntil = Math.max(lane.heldUntil, until)
    lane.nextFree = Math.max(lane.nextFree, until + this.#tolerance)
  }

  get #tolerance(): number {
    return (this.burst - 1) * this.intervalMs
  }

  #lane(channel: string): ChannelLane {
    let lane = this.#lanes.get(channel)
    if (!lane) {
      lane = { nextFree: 0, heldUntil: 0 }
      this.#lanes.set(channel, lane)
    }
    return lane
  }
}
