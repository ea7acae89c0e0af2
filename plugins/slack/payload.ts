import type { Post, Segment } from '../../src/markdown/split.js'
import type { RelayMessage } from '../../src/message.js'
import { escapeMrkdwn, fallbackText, threadTitle, truncate } from './format.js'
import type { SlackSettings, Speaker } from './options.js'

/** Slack advises about 4,000 characters for `text`; it is only the notification and screen-reader form. */
export const fallbackLimit = 3000

/** What the relay hands to chat.postMessage, besides the channel. */
export interface PostArguments {
  text: string
  blocks?: Block[]
  thread_ts?: string
  username?: string
  icon_emoji?: string
  icon_url?: string
  metadata?: { event_type: string; event_payload: Record<string, string> }
}

export type Block =
  | { type: 'markdown'; text: string }
  | { type: 'context'; elements: ContextElement[] }
  | { type: 'section'; text: { type: 'mrkdwn'; text: string } }
  | { type: 'table' | 'divider' }

type ContextElement = { type: 'mrkdwn'; text: string } | { type: 'image'; image_url: string; alt_text: string }

/** Names the conversation on its parent message, so its thread can be found from the channel's history. */
export function conversationMetadata(
  message: RelayMessage,
  relay: string,
  holds?: { messageIds: string[]; part: number }
): PostArguments['metadata'] {
  const payload: Record<string, string> = { conversation_id: message.conversationId, source: message.source, relay }
  // Which messages (and which part of them) the post holds, so that a post whose answer was lost
  // can be recognised when the thread is read back (recover.ts).
  if (holds) Object.assign(payload, { message_ids: JSON.stringify(holds.messageIds), part: String(holds.part) })
  return { event_type: conversationEvent, event_payload: payload }
}

/** The metadata event type of the relay's posts. */
export const conversationEvent = 'gptbots_conversation'

/** The parent message of a conversation's thread in "title" mode. */
export function titleArguments(settings: SlackSettings, message: RelayMessage, relay: string): PostArguments {
  return { text: threadTitle(settings.threadTitle, message), metadata: conversationMetadata(message, relay) }
}

/**
 * A thread's parent in "title" mode that also holds the conversation's first post, for a busy
 * channel (one post instead of two): the title, then the post as it would have gone into the
 * thread. Undefined when the post has no room left for the title's block.
 */
export function titledArguments(
  settings: SlackSettings,
  message: RelayMessage,
  relay: string,
  args: PostArguments
): PostArguments | undefined {
  const blocks = args.blocks ?? []
  if (blocks.length + 1 > 50) return undefined
  const title = threadTitle(settings.threadTitle, message)
  return {
    ...args,
    text: truncate(`${title}\n${args.text}`, fallbackLimit),
    blocks: [{ type: 'section', text: { type: 'mrkdwn', text: title } }, ...blocks],
    metadata: conversationMetadata(message, relay)
  }
}

/**
 * One part of a relayed message. With `customize`, every part carries the speaker's name and
 * icon; otherwise the first part opens with a small context line naming the speaker, and every
 * part's notification text (its plain text) starts with the name.
 */
export function partArguments(
  settings: SlackSettings,
  message: RelayMessage,
  post: Post,
  index: number
): PostArguments {
  const speaker = settings.speakers[message.type]
  const blocks: Block[] = post.segments.map(slackBlock)
  const plain = post.plain || 'table'
  if (settings.customize) {
    const icon = speaker.iconUrl ? { icon_url: speaker.iconUrl } : { icon_emoji: speaker.iconEmoji }
    return { text: fallbackText(plain, fallbackLimit), blocks, username: speaker.name, ...icon }
  }
  const name = escapeMrkdwn(speaker.name)
  if (index === 0) blocks.unshift(speakerContext(speaker))
  return { text: `${name}: ${fallbackText(plain, fallbackLimit - name.length - 2)}`, blocks }
}

/** A segment of a split post as a Slack block. */
export function slackBlock(segment: Segment): Block {
  return 'block' in segment ? (segment.block as Block) : { type: 'markdown', text: segment.text }
}

/** Blocks a post may hold besides the speaker's context block. */
export const postBlocks = 49

function speakerContext(speaker: Speaker): Block {
  const name = `*${escapeMrkdwn(speaker.name)}*`
  if (speaker.iconUrl) {
    return {
      type: 'context',
      elements: [
        { type: 'image', image_url: speaker.iconUrl, alt_text: speaker.name },
        { type: 'mrkdwn', text: name }
      ]
    }
  }
  const text = speaker.iconEmoji ? `${speaker.iconEmoji} ${name}` : name
  return { type: 'context', elements: [{ type: 'mrkdwn', text }] }
}
