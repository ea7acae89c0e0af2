import type { Post, Segment } from '../../src/markdown/split.js'
import type { RelayMessage } from '../../src/message.js'
import { escapeMrkdwn, fallbackText } from './format.js'
import type { SlackSettings, Speaker } from './options.js'
import { fallbackLimit, type PostArguments, partArguments, postBlocks, slackBlock } from './payload.js'

/*
 * A lane's backlog in as few Slack posts as the limits allow (#15). Each message is split on its
 * own first (plugins/slack/format.ts, src/markdown/split.ts); messages that fit in one part each
 * are then packed whole into one post, so that a post always holds whole messages and the relay
 * knows exactly which messages a post delivered. A message that needs several parts goes alone.
 *
 * One post has one sender, even with chat:write.customize. So in a post of several turns every
 * turn opens with a context block: the speaker's icon (image or emoji), name and the time the
 * message was written, shown in each reader's own time zone. The post's `text`, the notification,
 * is the turns' plain text, one line each, each behind its speaker's name.
 */

/** Slack's limits for one post, as far as packing whole messages is concerned. */
export const postLimits = { blocks: 50, tables: 1 } as const

/** What one call posts: the messages it delivers once every post in `posts` has gone. */
export interface Group {
  messages: RelayMessage[]
  posts: PostArguments[]
  /** Several messages in one post. */
  combined: boolean
}

/**
 * The first group of `messages`, each split into parts by `partsOf`: the head
 * alone when it needs several posts (or when nothing else fits beside it), else the head and the
 * messages after it that fit whole in the same post.
 */
export function firstGroup(
  settings: SlackSettings,
  messages: RelayMessage[],
  partsOf: (message: RelayMessage) => Post[]
): Group {
  const head = messages[0] as RelayMessage
  const headParts = partsOf(head)
  const alone: Group = {
    messages: [head],
    posts: headParts.map((part, index) => partArguments(settings, head, part, index)),
    combined: false
  }
  if (headParts.length !== 1) return alone
  const taken: { message: RelayMessage; post: Post | undefined }[] = []
  let blocks = 0
  let chars = 0
  let tables = 0
  for (const [i, message] of messages.entries()) {
    // Each message is rendered only when the post may still have room for it.
    const messageParts = i === 0 ? headParts : partsOf(message)
    if (messageParts.length > 1) break
    const post = messageParts[0]
    const size = post ? measure(post.segments) : { blocks: 0, chars: 0, tables: 0 }
    // The context block that opens the turn counts as one more.
    if (blocks + size.blocks + 1 > postLimits.blocks) break
    if (chars + size.chars > settings.maxPartLength) break
    if (tables + size.tables > postLimits.tables) break
    taken.push({ message, post })
    blocks += size.blocks + 1
    chars += size.chars
    tables += size.tables
    // Slack shows a table at the end of a message: nothing goes after one.
    if (size.tables > 0) break
  }
  if (taken.length < 2) return alone
  return { messages: taken.map(t => t.message), posts: [combinedArguments(settings, taken)], combined: true }
}

function measure(segments: Segment[]): { blocks: number; chars: number; tables: number } {
  let chars = 0
  let tables = 0
  for (const segment of segments) {
    if ('text' in segment) chars += segment.text.length
    else if ((segment.block as { type?: string }).type === 'table') tables++
  }
  return { blocks: segments.length, chars, tables }
}

/** One post of several whole messages, each opening with its speaker and time. */
function combinedArguments(
  settings: SlackSettings,
  turns: { message: RelayMessage; post: Post | undefined }[]
): PostArguments {
  const blocks: PostArguments['blocks'] = []
  const lines: string[] = []
  for (const { message, post } of turns) {
    const speaker = settings.speakers[message.type]
    blocks.push(turnContext(speaker, message.createdAt))
    for (const segment of post?.segments ?? []) blocks.push(slackBlock(segment))
    lines.push(`${speaker.name}: ${(post?.plain || (post ? 'table' : '')).replace(/\s+/g, ' ').trim()}`)
  }
  const args: PostArguments = { text: fallbackText(lines.join('\n'), fallbackLimit), blocks }
  // With chat:write.customize, a post whose turns are all one speaker's goes under that speaker;
  // a post of several speakers goes under the app's own name, and its context blocks tell them apart.
  const speakers = new Set(turns.map(turn => turn.message.type))
  if (settings.customize && speakers.size === 1) {
    const speaker = settings.speakers[(turns[0] as { message: RelayMessage }).message.type]
    args.username = speaker.name
    if (speaker.iconUrl) args.icon_url = speaker.iconUrl
    else if (speaker.iconEmoji) args.icon_emoji = speaker.iconEmoji
  }
  return args
}

/** A turn's opening line: icon, name in bold, and when it was written (in the reader's time zone). */
export function turnContext(speaker: Speaker, createdAt: number): NonNullable<PostArguments['blocks']>[number] {
  const name = `*${escapeMrkdwn(speaker.name)}*`
  const when = slackDate(createdAt)
  if (speaker.iconUrl) {
    return {
      type: 'context',
      elements: [
        { type: 'image', image_url: speaker.iconUrl, alt_text: speaker.name },
        { type: 'mrkdwn', text: `${name} · ${when}` }
      ]
    }
  }
  const icon = speaker.iconEmoji ? `${speaker.iconEmoji} ` : ''
  return { type: 'context', elements: [{ type: 'mrkdwn', text: `${icon}${name} · ${when}` }] }
}

/**
 * Slack's date token: each reader sees the time in their own zone; clients that can't format it
 * show the fallback, the time in UTC.
 */
export function slackDate(ms: number): string {
  const date = new Date(Number.isFinite(ms) ? ms : 0)
  const fallback = `${date.toISOString().slice(0, 19).replace('T', ' ')} UTC`
  return `<!date^${Math.floor(date.getTime() / 1000)}^{date_short_pretty} {time_secs}|${fallback}>`
}

export { postBlocks }
