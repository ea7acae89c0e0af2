import type { ConversationState } from './types.js'

/**
 * What tells how busy a channel is in this process: the posts waiting for its next slot (Slack's
 * pacer), or the deliveries in flight into it (Discord).
 */
export interface ChannelLoad {
  waiting(channel: string): number
}

const key = 'channel'
const countsKey = 'channelConversations'

/**
 * Which of a relay's channels a conversation goes to (#15); shared by the Slack and Discord relays
 * and exported for custom relays. With one channel, that one. With
 * several, a new conversation goes to the least busy channel, and the choice is kept in the
 * conversation's state in the store, so that it stays there across restarts and on every replica
 * (only one delivery of a conversation runs at a time, cluster-wide, so the first choice wins).
 * A conversation that already has a thread in one of the channels (the relay had one channel
 * before) stays with it.
 *
 * "Least busy": fewest conversations given to the channel so far, counted in the relay's shared
 * state in the store so that every replica sees the others' choices, plus the posts waiting for
 * the channel in this process. Two replicas choosing at the same moment may both count from the
 * same figures; that only makes the spread a little uneven, never splits a conversation.
 */
export class ChannelChoice {
  readonly #local = new Map<string, number>()

  constructor(
    readonly channels: readonly string[],
    private readonly load: ChannelLoad
  ) {}

  /** The channel already chosen for the conversation, if any: nothing is chosen or counted. */
  async chosen(state: ConversationState): Promise<string | undefined> {
    if (this.channels.length === 1) return this.channels[0] as string
    const stored = await state.get<unknown>(key)
    return typeof stored === 'string' && this.channels.includes(stored) ? stored : undefined
  }

  async of(state: ConversationState): Promise<string> {
    if (this.channels.length === 1) return this.channels[0] as string
    const stored = await state.get<unknown>(key)
    if (typeof stored === 'string' && this.channels.includes(stored)) return stored
    const thread = await state.get<{ channel?: unknown }>('thread')
    const threaded = typeof thread?.channel === 'string' ? thread.channel : undefined
    const counts = await this.#counts(state)
    const chosen = threaded && this.channels.includes(threaded) ? threaded : this.#leastBusy(counts)
    counts[chosen] = (counts[chosen] ?? 0) + 1
    // The conversation's own choice is written last: a crash before it only counts it twice.
    if (state.shared) await state.shared.set(countsKey, counts)
    else this.#local.set(chosen, counts[chosen])
    await state.set(key, chosen)
    return chosen
  }

  async #counts(state: ConversationState): Promise<Record<string, number>> {
    const counts: Record<string, number> = {}
    const stored = state.shared ? await state.shared.get<unknown>(countsKey) : Object.fromEntries(this.#local)
    if (typeof stored === 'object' && stored !== null) {
      for (const [channel, count] of Object.entries(stored)) {
        if (typeof count === 'number' && Number.isFinite(count)) counts[channel] = count
      }
    }
    return counts
  }

  /** The channel with the fewest conversations and waiting posts; the first on a tie. */
  #leastBusy(counts: Record<string, number>): string {
    let best = this.channels[0] as string
    let bestScore = Number.POSITIVE_INFINITY
    for (const channel of this.channels) {
      const score = (counts[channel] ?? 0) + this.load.waiting(channel)
      if (score < bestScore) {
        best = channel
        bestScore = score
      }
    }
    return best
  }
}
