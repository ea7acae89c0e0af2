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
  /** A reply on its way: written before it is posted, gone from the write after it. */
  posting?: Posting
}

/**
 * A post about to be made: left behind, it says that the post may have gone without its answer
 * (the process died, the answer was lost), so the next delivery reads Slack back before posting.
 */
export interface Posting {
  /** When, in ms: Slack is read back from a little before. */
  at: number
  messageIds: string[]
  part: number
}

const key = 'thread'
/** The note of a thread parent on its way, for a conversation with no thread yet. */
const parentKey = 'threadPosting'

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
  await state.delete(parentKey)
}

/** Notes a parent about to be posted in `channel`; the thread written after it makes the note moot. */
export async function noteParent(state: ConversationState, channel: string, posting: Posting): Promise<void> {
  await state.set(parentKey, { channel, ...posting })
}

/** Forgets the note of a parent that Slack refused: it was not posted. */
export async function forgetParentNote(state: ConversationState): Promise<void> {
  await state.delete(parentKey)
}

/** The note of a parent that may have been posted in `channel` without its answer, or undefined. */
export async function notedParent(state: ConversationState, channel: string): Promise<Posting | undefined> {
  const stored = await state.get<unknown>(parentKey)
  if (typeof stored !== 'object' || stored === null || (stored as { channel?: unknown }).channel !== channel)
    return undefined
  return isPosting(stored) ? stored : undefined
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
  if (thread.posting !== undefined && !isPosting(thread.posting)) return false
  if (thread.progress === undefined) return true
  const progress = thread.progress as Record<string, unknown> | null
  return (
    typeof progress?.messageId === 'string' &&
    Array.isArray(progress.posted) &&
    progress.posted.every(ts => typeof ts === 'string')
  )
}

function isPosting(value: unknown): value is Posting {
  const posting = value as Record<string, unknown> | null
  return (
    typeof posting?.at === 'number' &&
    typeof posting.part === 'number' &&
    Array.isArray(posting.messageIds) &&
    posting.messageIds.every(id => typeof id === 'string')
  )
}
