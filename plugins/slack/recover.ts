import type { RelayLogger } from '../../src/relays/types.js'
import type { SlackClient } from './client.js'
import { conversationEvent } from './payload.js'

/**
 * Finding a post whose answer was lost. Every post carries its conversation and the ids of the
 * messages it holds in its metadata (payload.ts), and the relay writes down what it is about to
 * post before posting it (threads.ts). When a delivery finds such a note left behind (the process
 * died, or the answer never came), it reads the channel or the thread back, from just before the
 * note, to see whether the post went: a thread parent in the channel's history, a reply in the
 * thread. Reading needs channels:history (groups:history for a private channel); without it the
 * relay says so once and posts again, as it would have without the look.
 */

/** A post found on Slack: its ts, and which part of which messages it holds. */
export interface FoundPost {
  ts: string
  messageIds: string[]
  part: number
}

export interface Who {
  relay: string
  source: string
  conversationId: string
}

/** Slack allows at most 999 messages a page; a few pages reach far enough back from the note. */
const pageSize = 200
const maxPages = 5
/** Clocks differ, and Slack's ts is Slack's time: read back from a little before the note. */
const marginMs = 60_000

export class LostPosts {
  #warned = false

  constructor(
    private readonly client: SlackClient,
    private readonly logger: RelayLogger,
    private readonly relay: string
  ) {}

  /** The conversation's thread parent, posted since `since` (ms), or undefined. */
  async parent(channel: string, who: Who, since: number, signal: AbortSignal): Promise<FoundPost | undefined> {
    const found = await this.#read('conversations.history', { channel }, since, signal, who)
    // Newest first: the oldest parent of the conversation is the one its first post made.
    return found.at(-1)
  }

  /** The reply in the thread holding `part` of the message `messageId`, posted since `since`, or undefined. */
  async reply(
    channel: string,
    threadTs: string,
    who: Who,
    messageId: string,
    part: number,
    since: number,
    signal: AbortSignal
  ): Promise<FoundPost | undefined> {
    const found = await this.#read('conversations.replies', { channel, ts: threadTs }, since, signal, who)
    return found.find(post => post.ts !== threadTs && post.part === part && post.messageIds[0] === messageId)
  }

  async #read(
    method: 'conversations.history' | 'conversations.replies',
    where: Record<string, string>,
    since: number,
    signal: AbortSignal,
    who: Who
  ): Promise<FoundPost[]> {
    const found: FoundPost[] = []
    let cursor: string | undefined
    const oldest = (Math.max(0, since - marginMs) / 1000).toFixed(6)
    for (let page = 0; page < maxPages; page++) {
      if (signal.aborted) throw signal.reason
      let answer: { messages?: unknown[]; response_metadata?: { next_cursor?: string } }
      try {
        answer = await this.client.apiCall(method, {
          ...where,
          oldest,
          limit: pageSize,
          include_all_metadata: true,
          ...(cursor ? { cursor } : {})
        })
      } catch (error) {
        if (!missingScope(error)) throw error
        this.#withoutScope(where.channel as string)
        return []
      }
      for (const message of answer.messages ?? []) {
        const post = postOf(message, who)
        if (post) found.push(post)
      }
      cursor = answer.response_metadata?.next_cursor || undefined
      if (!cursor) break
    }
    return found
  }

  #withoutScope(channel: string): void {
    if (this.#warned) return
    this.#warned = true
    this.logger.warn(
      { channel },
      `Slack relay ${this.relay}: cannot read channel ${channel} back without channels:history (groups:history for a private channel), ` +
        'so a post whose answer was lost (a crash, a timeout) is posted again, and a new conversation may get a second thread: add the scope and reinstall the app'
    )
  }
}

/** A message of the relay's, from a read back with metadata, or undefined when it is not one of this conversation's. */
function postOf(message: unknown, who: Who): FoundPost | undefined {
  const { ts, metadata } = message as { ts?: unknown; metadata?: { event_type?: unknown; event_payload?: unknown } }
  if (typeof ts !== 'string' || metadata?.event_type !== conversationEvent) return undefined
  const payload = metadata.event_payload as Record<string, unknown> | undefined
  if (payload?.conversation_id !== who.conversationId || payload.source !== who.source || payload.relay !== who.relay)
    return undefined
  let messageIds: string[] = []
  try {
    const ids: unknown = JSON.parse(typeof payload.message_ids === 'string' ? payload.message_ids : '[]')
    if (Array.isArray(ids)) messageIds = ids.filter((id): id is string => typeof id === 'string')
  } catch {
    // A parent posted before posts named their messages: it still marks the thread.
  }
  const part = Number(payload.part ?? 0)
  return { ts, messageIds, part: Number.isInteger(part) ? part : 0 }
}

function missingScope(error: unknown): boolean {
  return (error as { data?: { error?: unknown } } | undefined)?.data?.error === 'missing_scope'
}
