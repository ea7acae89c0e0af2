import type { RelayMessage } from '../message.js'

interface Waiting {
  channel: string
  receivedAt: number
}

/**
 * What a relay that posts into several channels (or one) knows of its lag per channel (#15): for
 * each conversation it was offered messages of and has not posted yet, the channel and when the
 * oldest of them was received. `snapshot()` is what a relay's `channelLag()` answers: per channel,
 * the oldest. Kept in memory for the conversations this process is delivering.
 */
export class ChannelLag {
  readonly #waiting = new Map<string, Waiting>()

  /** A delivery of `messages` (oldest first) into `channel` starts. */
  offered(channel: string, messages: readonly RelayMessage[]): void {
    const head = messages[0]
    if (!head) return
    this.#waiting.set(keyOf(head), { channel, receivedAt: head.receivedAt })
  }

  /**
   * The delivery ended with the first `delivered` messages posted. `done`: nothing of them waits
   * any more (all went, or the head was dead-lettered and the lane moves on).
   */
  settled(messages: readonly RelayMessage[], delivered: number, done = false): void {
    const head = messages[0]
    if (!head) return
    const key = keyOf(head)
    const next = messages[delivered]
    const waiting = this.#waiting.get(key)
    if (done || !next || !waiting) this.#waiting.delete(key)
    else waiting.receivedAt = next.receivedAt
  }

  /** Per channel, when the oldest message offered and not yet posted was received. */
  snapshot(): Map<string, number> {
    const oldest = new Map<string, number>()
    for (const { channel, receivedAt } of this.#waiting.values()) {
      const known = oldest.get(channel)
      if (known === undefined || receivedAt < known) oldest.set(channel, receivedAt)
    }
    return oldest
  }
}

function keyOf(message: RelayMessage): string {
  return `${message.source}\u0000${message.conversationId}`
}
