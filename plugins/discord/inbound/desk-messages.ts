import { createHash } from 'node:crypto'
import { escapeMarkdown } from '@discordjs/formatters'
import type { DeskAuthor, MessageType } from '../../../src/message.js'
import type { HandoffRecord, HandoffRef } from '../../../src/relays/types.js'
import { EmbedLimit, shorten, type Embed } from '../embeds.js'
import { CONTENT_LIMIT, type Part } from '../format.js'
import { discordTexts } from '../markdown.js'

/** Discord's message components the desk uses: action rows (type 1) of buttons (type 2). */
export interface Button {
  type: 2
  style: 1 | 2 | 3 | 4
  label: string
  custom_id: string
  disabled?: boolean
}
export interface ActionRow {
  type: 1
  components: Button[]
}

/** Who may be pinged by a desk post: nobody, or the configured on-call role only. */
export interface Mentions {
  parse: never[]
  roles?: string[]
}

/** A desk post: a message part with buttons and, for the opening post only, the on-call role allowed to ping. */
export interface DeskPart extends Part {
  components?: ActionRow[]
  allowed_mentions?: Mentions
}

export type Action = 'claim' | 'reply' | 'close'

const BUTTON_STYLE: Record<Action, Button['style']> = { claim: 1, reply: 3, close: 4 }
const BUTTON_LABEL: Record<Action, string> = { claim: 'Claim', reply: 'Reply', close: 'Close' }

/** Discord allows at most 4,000 characters in a text input. */
export const REPLY_MAX = 4000

const COLOR = { waiting: 0xfee75c, delivered: 0x57f287, dead: 0xed4245, note: 0x99aab5 } as const

/**
 * A short, fixed-length key of a handoff for custom_ids (at most 100 characters, where a source
 * and GPTBots' id might not fit). The desk's link table maps it back to the handoff.
 */
export function handoffKey(ref: HandoffRef): string {
  return createHash('sha256').update(`${ref.source}\n${ref.handoffId}`).digest('base64url').slice(0, 22)
}

export const customId = (action: Action, key: string) => `handoff:${action}:${key}`

/** `handoff:{action}:{key}` back to its parts; anything else is not the desk's. */
export function parseCustomId(id: unknown): { action: Action; key: string } | undefined {
  if (typeof id !== 'string') return undefined
  const match = /^handoff:(claim|reply|close):([A-Za-z0-9_-]{22})$/.exec(id)
  return match ? { action: match[1] as Action, key: match[2]! } : undefined
}

/** A name as it may sit in a message: Markdown and mentions shown as typed. */
export const plainName = (author: DeskAuthor | undefined): string =>
  escapeMarkdown(shorten((author?.name || (author ? `user ${author.id}` : 'someone')).replace(/\s+/g, ' '), 80))

export interface ButtonState {
  claimedBy?: DeskAuthor
  closed?: boolean
}

/** The opening post's buttons; a claim greys out Claim, a close greys out everything. */
export function buttons(key: string, state: ButtonState = {}): ActionRow[] {
  const button = (action: Action): Button => {
    const b: Button = {
      type: 2,
      style: BUTTON_STYLE[action],
      label: BUTTON_LABEL[action],
      custom_id: customId(action, key)
    }
    if (action === 'claim' && state.claimedBy) {
      b.label = shorten(`Claimed by ${state.claimedBy.name || state.claimedBy.id}`, 80)
      b.style = 2
      b.disabled = true
    }
    if (state.closed) b.disabled = true
    return b
  }
  return [{ type: 1, components: [button('claim'), button('reply'), button('close')] }]
}

const USER_INFO_LABEL: Record<string, string> = {
  user_id: 'User id',
  anonymous_id: 'Anonymous id',
  email: 'Email',
  phone: 'Phone'
}

export interface Opening {
  key: string
  userInfo: Record<string, string>
  botId?: string
  email?: string
  history: { type: MessageType; text: string }[]
  names: Record<MessageType, string>
  onCallRole?: string
  /** The note marker (handoff.noteMarker), '' when notes are off. */
  noteMarker?: string
}

/** Field text: Markdown shown as typed, cut to Discord's limits. */
const fieldText = (text: string, max: number) => shorten(escapeMarkdown(text.trim()) || '—', max)

/**
 * The handoff's opening post, then the conversation so far: the banner (and the on-call role,
 * when configured, the one mention allowed to ping), who the user is, and the buttons; then the
 * history speaker by speaker, in order, packed into as few posts as fit.
 */
export function openingParts(opening: Opening): DeskPart[] {
  const fields = Object.entries(opening.userInfo)
    .filter(([, value]) => typeof value === 'string' && value.trim() !== '')
    .map(([name, value]) => ({
      name: fieldText(USER_INFO_LABEL[name] ?? name, EmbedLimit.fieldName),
      value: fieldText(value, EmbedLimit.fieldValue),
      inline: true
    }))
  if (opening.email?.trim()) fields.push({ name: 'Bot owner', value: fieldText(opening.email, 1024), inline: true })
  if (opening.botId?.trim()) fields.push({ name: 'Bot id', value: fieldText(opening.botId, 1024), inline: true })
  const embed: Embed = {
    title: 'Who the user is',
    color: COLOR.waiting,
    description: fields.length === 0 ? 'GPTBots sent nothing about the user.' : undefined,
    fields: fields.slice(0, EmbedLimit.fields)
  }
  if (!embed.description) delete embed.description
  const ping = opening.onCallRole ? `<@&${opening.onCallRole}> ` : ''
  const banner =
    `${ping}🚨 **A human is needed.** GPTBots handed this conversation to the team: the user is waiting for an answer.\n` +
    `-# Press **Reply** to answer (the first answer must come within GPTBots' wait time, 60 s by default), **Claim** to take it, **Close** to end it.` +
    (opening.noteMarker
      ? ` A reply that starts with \`${opening.noteMarker.replace(/`/g, "'")}\` is an internal note: it stays here and never reaches the user.`
      : '') +
    `\n-# Only **Reply** reaches the user: messages and files posted straight into this thread stay here. To send a file, put its link in a reply.`
  const first: DeskPart = {
    content: banner,
    embeds: [embed],
    components: buttons(opening.key),
    allowed_mentions: opening.onCallRole ? { parse: [], roles: [opening.onCallRole] } : { parse: [] }
  }
  return [first, ...historyParts(opening.history, opening.names)]
}

const SPEAKER_ICON: Record<MessageType, string> = { QUESTION: '👤', ANSWER: '🤖' }

/** The conversation so far, one block per turn, blocks packed into posts of at most 2,000 characters. */
export function historyParts(
  history: { type: MessageType; text: string }[],
  names: Record<MessageType, string>
): DeskPart[] {
  if (history.length === 0) return []
  const heading = `**Conversation so far** (${history.length} ${history.length === 1 ? 'message' : 'messages'})`
  const blocks: string[] = []
  for (const turn of history) {
    const label = `**${SPEAKER_ICON[turn.type]} ${escapeMarkdown(names[turn.type])}**`
    const texts = turn.text.trim() ? discordTexts(turn.text, CONTENT_LIMIT - label.length - 1) : ['-# (empty)']
    blocks.push(...texts.map((text, i) => (i === 0 ? `${label}\n${text}` : text)))
  }
  const posts: string[] = []
  let post = heading
  for (const block of blocks) {
    if (post && post.length + 2 + block.length > CONTENT_LIMIT) {
      posts.push(post)
      post = block
    } else post = post ? `${post}\n\n${block}` : block
  }
  if (post) posts.push(post)
  return posts.map(content => ({ content, allowed_mentions: { parse: [] } }))
}

const CLOSE_TEXT: Record<'TIMEOUT' | 'USER_CLOSED' | 'AGENT', (by: string) => string> = {
  TIMEOUT: () => '🔒 **Handoff closed: it timed out** in GPTBots. Replies no longer reach the user.',
  USER_CLOSED: () => '🔒 **Handoff closed: the user ended it.** Replies no longer reach the user.',
  AGENT: by => `🔒 **Handoff closed by ${by}.** GPTBots has been told; replies no longer reach the user.`
}

export const closedPart = (reason: keyof typeof CLOSE_TEXT, author?: DeskAuthor): DeskPart => ({
  content: CLOSE_TEXT[reason](plainName(author)),
  allowed_mentions: { parse: [] }
})

export const claimedPart = (author: DeskAuthor): DeskPart => ({
  content: `🙋 **${plainName(author)}** claimed this handoff.`,
  allowed_mentions: { parse: [] }
})

/** Why a closed handoff takes no more replies, for the person who tried. */
export function closedReason(record: HandoffRecord): string {
  switch (record.closedReason) {
    case 'TIMEOUT':
      return 'it timed out in GPTBots'
    case 'USER_CLOSED':
      return 'the user ended it'
    case 'AGENT':
      return 'someone on the desk closed it'
    default:
      return 'it is closed'
  }
}

/** The modal the Reply button opens: one paragraph input. */
export function replyModal(key: string): Record<string, unknown> {
  return {
    custom_id: customId('reply', key),
    title: 'Reply to the user',
    components: [
      {
        type: 1,
        components: [
          {
            type: 4,
            custom_id: 'text',
            style: 2,
            label: 'Your answer (goes to the user in GPTBots)',
            min_length: 1,
            max_length: REPLY_MAX,
            required: true,
            placeholder: 'Type the answer the user will see'
          }
        ]
      }
    ]
  }
}

export type ReplyState = 'sending' | 'delivered' | 'dead'

const FOOTER: Record<ReplyState, string> = {
  sending: '⏳ On its way to the user',
  delivered: '✅ Reached the user',
  dead: '⚠️ Did not reach the user'
}

/** How a human's reply shows in the thread, and how it is marked once GPTBots has it or gave up. */
export function replyMessage(author: DeskAuthor, text: string, state: ReplyState, error?: string): DeskPart {
  let footer = FOOTER[state]
  if (state === 'dead')
    footer += `: ${shorten(error ?? 'GPTBots refused it', 500)}. Kept as a dead letter: replay it from the admin API or the dashboard.`
  return {
    content: `**💬 ${plainName(author)}** answered the user:`,
    embeds: [
      {
        description: shorten(text, EmbedLimit.description),
        color: state === 'sending' ? COLOR.waiting : COLOR[state],
        footer: { text: shorten(footer, EmbedLimit.footer) }
      }
    ],
    allowed_mentions: { parse: [] }
  }
}

/** The holding reply, as the thread shows it. */
export const holdingPart = (text: string, afterMs: number): DeskPart => ({
  content: `⏳ No one had answered ${Math.round(afterMs / 1000)} s after the handoff opened, so the user is sent the holding reply:`,
  embeds: [{ description: shorten(text, EmbedLimit.description), color: COLOR.waiting }],
  allowed_mentions: { parse: [] }
})

/** An internal note typed in the reply modal: shown in the thread as a note, never sent. */
export const notePart = (author: DeskAuthor, text: string): DeskPart => ({
  content: `**📝 Note by ${plainName(author)}** (internal: not sent to the user)`,
  embeds: [{ description: shorten(text, EmbedLimit.description), color: COLOR.note }],
  allowed_mentions: { parse: [] }
})

/** A receipt for a reply whose message can no longer be edited (the interaction's 15 minutes are over). */
export function receiptPart(author: DeskAuthor, text: string, state: 'delivered' | 'dead', error?: string): DeskPart {
  const quote = shorten(text.replace(/\s+/g, ' ').trim(), 200)
  const what =
    state === 'delivered'
      ? `✅ The reply by **${plainName(author)}** reached the user`
      : `⚠️ The reply by **${plainName(author)}** did not reach the user (${shorten(error ?? 'GPTBots refused it', 500)}); it is kept as a dead letter: replay it from the admin API or the dashboard`
  return { content: `${what}:\n> ${escapeMarkdown(quote)}`, allowed_mentions: { parse: [] } }
}
