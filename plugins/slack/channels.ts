import type { ConversationState } from '../../src/relays/types.js'

/** What tells how busy a channel is right now: the posts waiting for its next slot. */
export interface ChannelLoad {
  waiting(channel: string): number
}

const key = 'channel'
/** How long a new conversation counts towards its channel's load, in this process. */
const recentMs = 10 * 60_000

/**
 * Which of the relay's channels a conversation goes to (#15). With one channel, that one. With
 * several, a new conversation goes to the least busy channel, and the choice is kept in the
 * conversation's state in the store, so that it stays there across restarts and on every replica
 * (only one delivery of a conversation runs at a time, cluster-wide, so the first choice wins).
 * A conversation that already has a thread in one of the channels (the relay had one channel
 * before) stays with it. "Least busy" is this process's view: posts waiting for the channel and
 * the conversations it was given in the last ten minutes.
 */
export class ChannelChoice {
  readonly #recent = new Map<string, number[]>()

  constructor(
    readonly channels: readonly string[],
    private readonly load: ChannelLoad,
    private readonly now: () => number = Date.now
  ) {}

  async of(state: ConversationState): Promise<string> {
    if (this.channels.length === 1) return this.channels[0] as string
    const stored = await state.get<unknown>(key)
    if (typeof stored === 'string' && this.channels.includes(stored)) return stored
    const thread = await state.get<{ channel?: unknown }>('thread')
    const threaded = typeof thread?.channel === 'string' ? thread.channel : undefined
    const chosen = threaded && this.channels.includes(threaded) ? threaded : this.leastBusy()
    await state.set(key, chosen)
    this.#count(chosen)
    return chosen
  }

  /** The channel with the fewest waiting posts and recent new conversations; the first on a tie. */
  leastBusy(): string {
    let best = this.channels[0] as string
    let bestScore = Number.POSITIVE_INFINITY
    for (const channel of this.channels) {
      const score = this.load.waiting(channel) + this.#recentCount(channel)
      if (score < bestScore) {
        best = channel
        bestScore = score
      }
    }
    return best
  }

  #count(channel: string): void {
    const times = this.#recent.get(channel) ?? []
    times.push(this.now())
    this.#recent.set(channel, times)
  }

  #recentCount(channel: string): number {
    const times = this.#recent.get(channel)
    if (!times) return 0
    const since = this.now() - recentMs
    while (times.length > 0 && (times[0] as number) < since) times.shift()
    return times.length
  }
}
