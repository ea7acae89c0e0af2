import type { ConversationState } from '../../src/relays/types.js'

/** How far the delivery of one message got: a retry redelivers the whole message. */
export interface Progress {
  messageId: string
  /** Parts already posted, in order, by their Slack ts. */
  posted: string[]
}

/**
 * A conversation's thread on Slack, kept in the conversation's state so that it survives
 * restarts. Thread and progress live in one value so that a single write records both the
 * parent and the part that became it.
 */
export interface ConversationThread {
  channel: string
  /** The parent message's ts: every later message of the conversation replies to it. */
  ts: string
  progress?: Progress
}

const key = 'thread'

/** The conversation's thread in this channel; a thread in another channel (the config changed) is ignored. */
export async function threadFor(state: ConversationState, channel: string): Promise<ConversationThread | undefined> {
  const stored = await state.get<unknown>(key)
  if (!isThread(stored) || stored.channel !== channel) return undefined
  return stored
}

export async function rememberThread(state: ConversationState, thread: ConversationThread): Promise<void> {
  await state.set(key, thread)
}

/** Forgets a thread Slack no longer knows, so that the next message starts a new one. */
export async function forgetThread(state: ConversationState): Promise<void> {
  await state.delete(key)
}

/** The parts of this message already posted by an earlier attempt, or none. */
export function postedParts(thread: ConversationThread | undefined, messageId: string): string[] {
  return thread?.progress?.messageId === messageId ? [...thread.progress.posted] : []
}

// State is JSON written by earlier versions too: trust only what has the expected shape.
function isThread(value: unknown): value is ConversationThread {
  if (typeof value !== 'object' || value === null) return false
  const thread = value as Record<string, unknown>
  if (typeof thread.channel !== 'string' || typeof thread.ts !== 'string') return false
  if (thread.progress === undefined) return true
  const progress = thread.progress as Record<string, unknown> | null
  return (
    typeof progress?.messageId === 'string' &&
    Array.isArray(progress.posted) &&
    progress.posted.every(ts => typeof ts === 'string')
  )
}
