import type { Clock } from '../../src/relays/types.js'

/** Thrown instead of waiting while Slack has asked the relay to leave a channel alone. */
export class ChannelHeld extends Error {
  constructor(
    readonly channel: string,
    readonly remainingMs: number
  ) {
    super(`Slack asked to slow down on channel ${channel}: holding posts for ${Math.ceil(remainingMs / 1000)} s`)
    this.name = 'ChannelHeld'
  }
}

interface ChannelLane {
  /**
   * When the channel is next free in a steady one-per-interval flow (GCRA's theoretical arrival
   * time), as Slack may see it: at least what Slack's own count can be.
   */
  nextFree: number
  /** Until when Slack's Retry-After told us to stay away. */
  heldUntil: number
  /** Posts let through so far. */
  sent: number
  /** Settles when the post before the last one in line has been let through or gave up. */
  line: Promise<void>
}

/** Called once Slack has answered a post (or the post failed): from then on its arrival time is bounded. */
export type Answered = () => void

/**
 * Keeps posts to each channel near Slack's pace of about one per second, letting a short burst
 * through. Posts to a channel wait in line, so concurrent deliveries to a channel go fairly;
 * channels never wait for each other.
 *
 * Slack counts a post when it arrives, which is some time after the relay lets it go; a post that
 * took long to arrive and one after it that arrived quickly look closer together to Slack than
 * they were sent. So the pace is kept on the latest time each post can have arrived: when it was
 * answered.
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
   * Waits for this channel's next slot; call what it returns once Slack has answered. While the
   * channel is held after a 429 it throws ChannelHeld rather than sleeping, so that the delivery
   * goes back to the core's queue instead of tying up a worker for the whole Retry-After.
   */
  async take(channel: string, signal?: AbortSignal): Promise<Answered> {
    signal?.throwIfAborted()
    const lane = this.#lane(channel)
    const before = lane.line
    let done!: () => void
    lane.line = new Promise(resolve => {
      done = resolve
    })
    try {
      await before
      for (;;) {
        signal?.throwIfAborted()
        const now = this.clock.now()
        if (lane.heldUntil > now) throw new ChannelHeld(channel, lane.heldUntil - now)
        const slot = Math.max(now, lane.nextFree - this.#tolerance)
        if (slot <= now) return this.#letThrough(lane, now)
        // Looked at again after the sleep: an answer or a 429 meanwhile may have moved the slot.
        await this.clock.sleep(slot - now, signal)
      }
    } finally {
      done()
    }
  }

  /** Keeps the channel free of posts until `until`, then lets them resume at the steady pace, without a burst. */
  hold(channel: string, until: number): void {
    const lane = this.#lane(channel)
    lane.heldUntil = Math.max(lane.heldUntil, until)
    lane.nextFree = Math.max(lane.nextFree, until + this.#tolerance)
  }

  #letThrough(lane: ChannelLane, now: number): Answered {
    lane.nextFree = Math.max(lane.nextFree, now) + this.intervalMs
    const number = ++lane.sent
    let answered = false
    return () => {
      if (answered) return
      answered = true
      // Had this post arrived only now, the channel would be free one interval later, plus one
      // interval for each post let through after it.
      lane.nextFree = Math.max(lane.nextFree, this.clock.now() + this.intervalMs * (1 + lane.sent - number))
    }
  }

  get #tolerance(): number {
    return (this.burst - 1) * this.intervalMs
  }

  #lane(channel: string): ChannelLane {
    let lane = this.#lanes.get(channel)
    if (!lane) {
      lane = { nextFree: 0, heldUntil: 0, sent: 0, line: Promise.resolve() }
      this.#lanes.set(channel, lane)
    }
    return lane
  }
}
