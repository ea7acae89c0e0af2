import { escapeMarkdown } from '@discordjs/formatters'
import type { MessageType, RelayMessage } from '../../src/message.js'
import { shorten } from '../../src/markdown/text.js'
import { flowEmbeds, packEmbeds, type Embed } from './embeds.js'
import { discordTexts } from './markdown.js'

export const CONTENT_LIMIT = 2000

/** One Discord message of a relayed message: a message too long for one becomes several parts. */
export interface Part {
  content?: string
  embeds?: Embed[]
  /** SUPPRESS_EMBEDS, when the relay turns link previews off. */
  flags?: number
}

/** Discord's message flag that hides link previews (embeds made from URLs). */
export const SUPPRESS_EMBEDS = 1 << 2

/** How messages should look where they land. */
export interface Look {
  /** Say who speaks in the text (a bot posts every message under its own name; a webhook does not need this). */
  labelRole: boolean
  /** Say which conversation a message belongs to (mode channel, where conversations interleave). */
  markConversation: boolean
  names: Record<MessageType, string>
  colors: Record<MessageType, number>
  /** False: posts carry SUPPRESS_EMBEDS, so links show no preview. */
  linkPreviews?: boolean
}

const ROLE_ICON: Record<MessageType, string> = { ANSWER: '🤖', QUESTION: '👤' }

function headers(message: RelayMessage, look: Look): { first: string; next: string } {
  const label = look.labelRole ? `**${ROLE_ICON[message.type]} ${escapeMarkdown(look.names[message.type])}**` : ''
  const mark = look.markConversation ? `conversation \`${shorten(message.conversationId.replace(/`/g, ''), 100)}\`` : ''
  const first = label && mark ? `${label} · ${mark}` : label || (mark && `-# ${mark}`)
  // In a thread the parts follow each other; in a shared channel each part must say whose it is.
  return { first, next: look.markConversation ? first : '' }
}

const withHeader = (header: string, body: string) => (header ? `${header}\n${body}` : body)

/**
 * A relayed message as the Discord messages to post, in order: the text split within 2,000
 * characters, then the flow output as embeds (the first batch riding on the last text part).
 * An empty message gives no parts.
 */
export function partsOf(message: RelayMessage, look: Look): Part[] {
  const { first, next } = headers(message, look)
  const room = (i: number) => CONTENT_LIMIT - (i === 0 ? first.length + 1 : next ? next.length + 1 : 0)
  const texts = message.text?.trim() ? discordTexts(message.text, room) : []
  const parts: Part[] = texts.map((text, i) => ({ content: withHeader(i === 0 ? first : next, text) }))
  const embeds = message.flowOutput.flatMap(entry => flowEmbeds(entry, look.colors[message.type]))
  for (const batch of packEmbeds(embeds)) {
    const last = parts[parts.length - 1]
    if (last && !last.embeds) {
      last.embeds = batch
      continue
    }
    const header = parts.length === 0 ? first : next
    parts.push(header ? { content: header, embeds: batch } : { embeds: batch })
  }
  if (look.linkPreviews === false) for (const part of parts) part.flags = SUPPRESS_EMBEDS
  return parts
}
