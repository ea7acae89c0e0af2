import type { RelayMessage } from '../../src/message.js'
import { shorten } from './embeds.js'
import type { APIChannel } from './rest.js'

export const THREAD_NAME_LIMIT = 100

/** State key of the conversation's thread or forum post: `{ id, name }`. */
export const THREAD_KEY = 'thread'
/** State key of a thread being created: kept until the thread is recorded, to find it again if the answer was lost. */
export const PENDING_KEY = 'threadPending'

export interface ThreadRecord {
  id: string
  name: string
}
export interface PendingThread {
  name: string
  at: number
  message: string
}

/** A conversation's thread name from the template, always 1–100 characters. */
export function threadName(template: string, message: RelayMessage): string {
  const firstText = message.text ?? message.flowOutput.find(entry => entry.content?.trim())?.content ?? ''
  const preview = shorten(firstText.replace(/\s+/g, ' ').trim(), 60)
  const name = template
    .replaceAll('{conversationId}', message.conversationId)
    .replaceAll('{source}', message.source)
    .replaceAll('{preview}', preview)
    .replace(/\s+/g, ' ')
    .trim()
  return shorten(name || `Conversation ${message.conversationId}`.trim(), THREAD_NAME_LIMIT)
}

/**
 * Among a guild's active threads, the one an earlier attempt created for this conversation (same
 * parent, owner and name, created since the attempt) but whose id never reached us.
 */
export function orphanOf(
  threads: APIChannel[],
  pending: PendingThread,
  parentId: string,
  ownerId: string
): string | undefined {
  const since = pending.at - 60_000
  const found = threads.filter(
    thread =>
      'parent_id' in thread &&
      thread.parent_id === parentId &&
      'owner_id' in thread &&
      thread.owner_id === ownerId &&
      thread.name === pending.name &&
      snowflakeTime(thread.id) >= since
  )
  found.sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1))
  return found[0]?.id
}

/** When Discord made an id: a snowflake's top 42 bits are milliseconds since 2015-01-01 UTC. */
export const snowflakeTime = (id: string): number => Number(BigInt(id) >> 22n) + 1_420_070_400_000
