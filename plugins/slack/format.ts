import type { Audio, FlowOutput, RelayMessage } from '../../src/message.js'
import { type Flow, joinFlows, Rank } from '../../src/markdown/flow.js'
import { splitFlow } from '../../src/markdown/split.js'
import { linkDestination, shorten } from '../../src/markdown/text.js'
import { slackFlow } from './markdown.js'
import type { SlackSettings } from './options.js'

/*
 * Why Slack's `markdown` block rather than converting to mrkdwn: LLM answers are standard
 * Markdown, and the markdown block lets Slack itself render headings, nested lists, emphasis,
 * links and fenced code with its language. The Markdown is written again from the parsed tree
 * (plugins/slack/markdown.ts), which turns tables into `table` blocks and rules into dividers.
 * `markdown_text` is not used because it can't be combined with `text` or with blocks.
 */

const wordJoiner = '\u2060'

// Slack's control sequences that notify people (<!here>, <!channel>, <!everyone>,
// <!subteam^ID>, <@U123>, <#C123>), also written as HTML entities, and the bare broadcast words.
const controlSequence = /(<|&lt;|&#0*60;|&#x0*3c;)(?=!(?:channel|here|everyone|group|subteam\^)|[@#][A-Z0-9])/gi
const broadcastWord = /(?<![\w.+-])@(?=(?:channel|here|everyone)\b)/gi

/**
 * Makes relayed text unable to notify anyone: a word joiner after the `<` or `@` breaks Slack's
 * parsing of mentions while the text still reads the same. Applied inside code too, since a
 * mention in a code span is no less a mention to a parser that runs before Markdown's.
 */
export function neutraliseMentions(text: string): string {
  return text.replace(controlSequence, `$1${wordJoiner}`).replace(broadcastWord, `@${wordJoiner}`)
}

/** Escapes text for Slack's mrkdwn (the `text` fallback, context blocks): only &, < and >. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

/** Turns plain text (a name, a transcript) into Markdown that shows exactly that text. */
export function escapeInline(text: string): string {
  return neutraliseMentions(text).replace(/[\\`*_[\]<>~|#&]/g, '\\$&')
}

/**
 * Makes relayed Markdown safe to post in a markdown block: mentions neutralised, and outside code
 * a `<` or an entity-looking `&` escaped with a backslash so that `a <b> c` or `&amp;` show as
 * written instead of vanishing as HTML or turning into other characters. Autolinks stay links.
 * Written from the parsed tree, so code (fenced or indented) is known exactly.
 */
export function safeMarkdown(markdown: string): string {
  return joinPosts(slackFlow(neutraliseMentions(markdown)))
}

function joinPosts(flow: Flow): string {
  return splitFlow(flow, { chars: Number.POSITIVE_INFINITY })
    .map(post => post.text)
    .join('\n\n')
}

/**
 * A relayed message as one flow, ready to split into posts: its text, then each flow output.
 * Each section is parsed alone, so a code block left open in the text cannot swallow the rest.
 */
export function messageFlow(message: RelayMessage, flowOutput: SlackSettings['flowOutput']): Flow {
  const text = message.text?.replace(/^\s*\n/, '').trimEnd()
  const sections: Flow[] = []
  if (text) sections.push(slackFlow(neutraliseMentions(text)))
  if (flowOutput === 'shown' || (flowOutput === 'whenNoText' && !text)) {
    for (const entry of message.flowOutput) sections.push(...flowSection(entry))
  }
  return joinFlows(sections, '\n\n', Rank.block)
}

/** The whole of a relayed message as Markdown, unsplit. */
export function messageMarkdown(message: RelayMessage, flowOutput: SlackSettings['flowOutput']): string {
  return joinPosts(messageFlow(message, flowOutput))
}

/** One flow component's output: a compact label line, then its text and audio. */
function flowSection(entry: FlowOutput): Flow[] {
  const content = entry.content?.replace(/^\s*\n/, '').trimEnd()
  const body = [
    ...(content ? [slackFlow(neutraliseMentions(content))] : []),
    ...entry.audio.map(audio => slackFlow(audioMarkdown(audio)))
  ]
  if (body.length === 0) return []
  const label = flowLabel(entry)
  return label ? [slackFlow(label), ...body] : body
}

function flowLabel(entry: FlowOutput): string | undefined {
  const name = entry.componentName?.trim()
  const branch = entry.branch?.trim()
  const words = [name && escapeInline(name), branch && `branch ${escapeInline(branch)}`].filter(Boolean)
  return words.length > 0 ? `_${words.join(' · ')}_` : undefined
}

/** An audio clip as a link, with its transcript quoted below it. */
function audioMarkdown(audio: Audio): string {
  const url = audio.url.trim()
  const link = /^https?:\/\/\S/i.test(url) ? `🔊 [Audio](${linkDestination(url)})` : `🔊 Audio: ${escapeInline(url)}`
  const transcript = audio.transcript?.trim()
  if (!transcript) return link
  return (
    link +
    '\n' +
    transcript
      .split('\n')
      .map(line => `> ${escapeInline(line)}`)
      .join('\n')
  )
}

/** The `text` of one post: its plain text as escaped mrkdwn, short enough for notifications. */
export function fallbackText(plain: string, limit: number): string {
  return truncate(escapeMrkdwn(plain), limit)
}

/** Cuts escaped mrkdwn to `limit` characters without breaking an entity or a character. */
export function truncate(text: string, limit: number): string {
  if (text.length <= limit) return text
  // A cut inside `&amp;` would leave a broken entity: cut before it instead.
  return shorten(text, limit).replace(/&[#a-z0-9]{0,8}…$/i, '…')
}

/** The parent message's text in "title" mode: the template with the conversation filled in. */
export function threadTitle(template: string, message: RelayMessage): string {
  const values: Record<string, string> = { conversationId: message.conversationId, source: message.source }
  const title = template.replace(/\{(conversationId|source)\}/g, (_, key: string) =>
    escapeMrkdwn(neutraliseMentions(values[key] ?? ''))
  )
  return truncate(title, 3000)
}
