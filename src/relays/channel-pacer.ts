import type { Clock, RelayTurn } from './types.js'

/** Thrown instead of waiting while the platform (Slack's 429) has asked the relay to leave a channel alone. */
export class ChannelHeld extends Error {
  constructor(
    readonly channel: string,
    readonly remainingMs: number
  ) {
    super(`Slack asked to slow down on channel ${channel}: holding posts for ${Math.ceil(remainingMs / 1000)} s`)
    this.name = 'ChannelHeld'
  }
}

/** Who a post is for, so that the channel's posts are shared fairly among conversations. */
export interface Turn {
  /** The conversation (or any lane) the post belongs to; posts of one key go in the order asked. */
  key?: string
  /**
   * The first post of a conversation (its thread's parent): it goes before the round, so that a
   * new conversation shows up at once however long the others' backlogs are.
   */
  first?: boolean
}

interface Waiter {
  first: boolean
  signal?: AbortSignal
  resolve(answered: Answered): void
  reject(error: unknown): void
}

interface ChannelLane {
  /**
   * When the channel is next free in a steady one-per-interval flow (GCRA's theoretical arrival
   * time), as the platform may see it: at least what its own count can be.
   */
  nextFree: number
  /** Until when a Retry-After (Slack's 429) told us to stay away. */
  heldUntil: number
  /** Posts let through so far. */
  sent: number
  /** First posts of conversations, served before the round. */
  firsts: Waiter[]
  /** Waiting posts by key; the map's order is the round: a key served goes to its end. */
  round: Map<string, Waiter[]>
  /** Whether a loop is handing out this channel's slots. */
  pumping: boolean
}

/** Called once the platform has answered a post (or the post failed): from then on its arrival time is bounded. */
export type Answered = () => void

let anonymous = 0

/**
 * Keeps posts to each channel near a platform's pace (Slack: about one per second, with a short
 * burst; a Discord channel: 5 per 5 s). The platform counts every post of a channel against one
 * budget (on Slack, thread replies included): the posts waiting for it are served round robin by
 * conversation (one post of each in turn, not first come first served), so that a chatty
 * conversation cannot starve the others, and a conversation's first post goes before the round.
 * Channels never wait for each other. Used by the Slack relay and the Discord relay's channel mode.
 *
 * A platform counts a post when it arrives, which is some time after the relay lets it go; a post that
 * took long to arrive and one after it that arrived quickly look closer together to the platform than
 * they were sent. So the pace is kept on the latest time each post can have arrived: when it was
 * answered.
 */
export class ChannelPacer {
  readonly #lanes = new Map<string, ChannelLane>()

  constructor(
    private readonly clock: Clock,
    private readonly intervalMs: number,
    private readonly burst: number
  ) {}

  /**
   * Waits for this channel's next slot given to `turn`'s key; call what it returns once the platform has
   * answered. While the channel is held after a 429 it throws ChannelHeld rather than sleeping, so
   * that the delivery goes back to the core's queue instead of tying up a worker for the whole
   * Retry-After.
   */
  take(channel: string, signal?: AbortSignal, turn: Turn = {}): Promise<Answered> {
    if (signal?.aborted) return Promise.reject(signal.reason)
    const lane = this.#lane(channel)
    const now = this.clock.now()
    if (lane.heldUntil > now) return Promise.reject(new ChannelHeld(channel, lane.heldUntil - now))
    return new Promise<Answered>((resolve, reject) => {
      // A delivery's one signal sees every post of it: a settled waiter stops listening to it.
      const onAbort = () => {
        if (this.#remove(lane, waiter)) reject(signal?.reason)
      }
      const settled = () => signal?.removeEventListener('abort', onAbort)
      const waiter: Waiter = {
        first: turn.first === true,
        signal,
        resolve: answered => {
          settled()
          resolve(answered)
        },
        reject: error => {
          settled()
          reject(error)
        }
      }
      if (waiter.first) lane.firsts.push(waiter)
      else {
        const key = turn.key ?? `\0${++anonymous}`
        const queue = lane.round.get(key)
        if (queue) queue.push(waiter)
        else lane.round.set(key, [waiter])
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      if (!lane.pumping) void this.#pump(channel, lane)
    })
  }

  /**
   * Takes the channel's next slot given to `turn`'s key ahead of its post (a relay's takeTurn, so
   * that the core reads the backlog only once the post can go), as a turn that the post then uses.
   */
  async turn(channel: string, signal: AbortSignal | undefined, turn: Turn = {}): Promise<PacerTurn> {
    return new PacerTurn(channel, await this.take(channel, signal, turn))
  }

  /** Keeps the channel free of posts until `until`, then lets them resume at the steady pace, without a burst. */
  hold(channel: string, until: number): void {
    const lane = this.#lane(channel)
    lane.heldUntil = Math.max(lane.heldUntil, until)
    lane.nextFree = Math.max(lane.nextFree, until + this.#tolerance)
  }

  /** How many posts wait for this channel: a measure of how busy it is. */
  waiting(channel: string): number {
    const lane = this.#lanes.get(channel)
    if (!lane) return 0
    let count = lane.firsts.length
    for (const queue of lane.round.values()) count += queue.length
    return count
  }

  /** Whether other posts are in line for the channel (or it is held after a 429): it is at its limit. */
  busy(channel: string): boolean {
    const lane = this.#lanes.get(channel)
    return lane !== undefined && (this.waiting(channel) > 0 || lane.heldUntil > this.clock.now())
  }

  /** Hands out the channel's slots while posts wait for them. */
  async #pump(channel: string, lane: ChannelLane): Promise<void> {
    lane.pumping = true
    try {
      for (;;) {
        const now = this.clock.now()
        if (lane.heldUntil > now) {
          for (const waiter of this.#drain(lane)) waiter.reject(new ChannelHeld(channel, lane.heldUntil - now))
          return
        }
        if (!this.#hasWaiters(lane)) return
        const slot = Math.max(now, lane.nextFree - this.#tolerance)
        if (slot <= now) {
          this.#next(lane)?.resolve(this.#letThrough(lane, now))
          continue
        }
        // Looked at again after the sleep: an answer or a 429 meanwhile may have moved the slot.
        await this.clock.sleep(slot - now)
      }
    } catch (error) {
      for (const waiter of this.#drain(lane)) waiter.reject(error)
    } finally {
      lane.pumping = false
    }
  }

  /** The waiter served next: a first post, else the head of the key whose turn it is. */
  #next(lane: ChannelLane): Waiter | undefined {
    const first = lane.firsts.shift()
    if (first) return first
    for (const [key, queue] of lane.round) {
      lane.round.delete(key)
      const waiter = queue.shift()
      // The key goes to the end of the round if it has more waiting.
      if (queue.length > 0) lane.round.set(key, queue)
      if (waiter) return waiter
    }
    return undefined
  }

  #hasWaiters(lane: ChannelLane): boolean {
    return lane.firsts.length > 0 || lane.round.size > 0
  }

  #drain(lane: ChannelLane): Waiter[] {
    const all = [...lane.firsts, ...[...lane.round.values()].flat()]
    lane.firsts = []
    lane.round.clear()
    return all
  }

  #remove(lane: ChannelLane, waiter: Waiter): boolean {
    const index = lane.firsts.indexOf(waiter)
    if (index !== -1) {
      lane.firsts.splice(index, 1)
      return true
    }
    for (const [key, queue] of lane.round) {
      const at = queue.indexOf(waiter)
      if (at === -1) continue
      queue.splice(at, 1)
      if (queue.length === 0) lane.round.delete(key)
      return true
    }
    return false
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
      lane = { nextFree: 0, heldUntil: 0, sent: 0, firsts: [], round: new Map(), pumping: false }
      this.#lanes.set(channel, lane)
    }
    return lane
  }
}

/**
 * A channel slot taken ahead of a post: the first post to `channel` uses it (`use`); `release` gives
 * it back when no post did. Either way the slot is given back once.
 */
export class PacerTurn implements RelayTurn {
  #answered?: Answered

  constructor(
    readonly channel: string,
    answered: Answered
  ) {
    this.#answered = answered
  }

  /** The slot for a post to `channel`, once; a slot for another channel (the conversation moved) goes back unused. */
  use(channel: string): Answered | undefined {
    const answered = this.#answered
    this.#answered = undefined
    if (!answered || channel === this.channel) return answered
    answered()
    return undefined
  }

  release(): void {
    this.#answered?.()
    this.#answered = undefined
  }
}
