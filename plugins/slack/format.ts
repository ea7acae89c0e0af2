import type { Audio, FlowOutput, RelayMessage } from '../../src/message.js'
import { scanLines } from './fences.js'
import type { SlackSettings } from './options.js'

/*
 * Why Slack's `markdown` block rather than converting to mrkdwn: LLM answers are standard
 * Markdown, and the markdown block lets Slack itself render headings, nested lists, emphasis,
 * links and fenced code with its language, where a hand-written Markdown-to-mrkdwn converter
 * would lose structure (nested lists, headings, tables) and get emphasis rules wrong. The price
 * is 12,000 characters per message, which the splitter pays. `markdown_text` is not used because
 * it can't be combined with `text` (the fallback always sent) or with blocks (the prefix).
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

const paragraphBreak = /\n[ \t]*\n/g
const autolink = /<(?:https?|mailto):[^\s<>]*>/iy
const entity = /&(?:#\d{1,7}|#x[0-9a-f]{1,6}|[a-z][a-z0-9]{1,31});/iy

/**
 * Makes relayed Markdown safe to post in a markdown block: mentions neutralised, and outside code
 * a `<` or an entity-looking `&` escaped with a backslash so that `a <b> c` or `&amp;` show as
 * written instead of vanishing as HTML or turning into other characters. Autolinks stay links.
 * Indented code blocks are not recognised (nested list items look the same); fenced code is.
 */
export function safeMarkdown(markdown: string): string {
  const text = neutraliseMentions(markdown)
  let out = ''
  let from = 0
  let inCode = false
  for (const line of scanLines(text)) {
    const code = Boolean(line.inside || line.opens)
    if (code !== inCode) {
      out += inCode ? text.slice(from, line.start) : escapeProse(text.slice(from, line.start))
      from = line.start
      inCode = code
    }
  }
  return out + (inCode ? text.slice(from) : escapeProse(text.slice(from)))
}

function escapeProse(prose: string): string {
  let out = ''
  let i = 0
  while (i < prose.length) {
    const c = prose[i] as string
    if (c === '\\') {
      out += prose.slice(i, i + 2)
      i += 2
    } else if (c === '`') {
      const span = codeSpanEnd(prose, i)
      out += prose.slice(i, span)
      i = span
    } else if (c === '<' && matchesAt(autolink, prose, i)) {
      out += prose.slice(i, autolink.lastIndex)
      i = autolink.lastIndex
    } else if (c === '<' || (c === '&' && matchesAt(entity, prose, i))) {
      out += '\\' + c
      i++
    } else {
      out += c
      i++
    }
  }
  return out
}

/** Where a code span opened by the backticks at `start` ends; just past the run if it is not one. */
function codeSpanEnd(prose: string, start: number): number {
  let run = start
  while (prose[run] === '`') run++
  const length = run - start
  // A code span ends at the next run of exactly as many backticks, within its paragraph.
  paragraphBreak.lastIndex = run
  const limit = paragraphBreak.exec(prose)?.index ?? prose.length
  let i = run
  while (i < limit) {
    if (prose[i] !== '`') {
      i++
      continue
    }
    let end = i
    while (prose[end] === '`') end++
    if (end - i === length && end <= limit) return end
    i = end
  }
  return run
}

function matchesAt(pattern: RegExp, text: string, index: number): boolean {
  pattern.lastIndex = index
  return pattern.test(text)
}

/** The whole of a relayed message as one Markdown document, before it is split into parts. */
export function messageMarkdown(message: RelayMessage, flowOutput: SlackSettings['flowOutput']): string {
  const text = message.text?.replace(/^\s*\n/, '').trimEnd()
  const sections: string[] = []
  if (text) sections.push(safeMarkdown(text))
  if (flowOutput === 'shown' || (flowOutput === 'whenNoText' && !text)) {
    for (const entry of message.flowOutput) {
      const section = flowSection(entry)
      if (section) sections.push(section)
    }
  }
  return sections.join('\n\n')
}

/** One flow component's output: a compact label line, then its text and audio. */
function flowSection(entry: FlowOutput): string | undefined {
  const content = entry.content?.replace(/^\s*\n/, '').trimEnd()
  const body = [content ? safeMarkdown(content) : undefined, ...entry.audio.map(audioMarkdown)].filter(
    (piece): piece is string => Boolean(piece)
  )
  if (body.length === 0) return undefined
  const label = flowLabel(entry)
  return (label ? [label, ...body] : body).join('\n\n')
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

// Characters that would end a Markdown link destination early or start something else.
function linkDestination(url: string): string {
  return url.replace(/[()<>\\\s"'`]/g, c => '%' + c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0'))
}

/** The `text` fallback of one part: its words as escaped mrkdwn, short enough for notifications. */
export function fallbackText(markdown: string, limit: number): string {
  const plain = markdown.replace(/\\([\\`*_{}[\]()#+\-.!|<>~&])/g, '$1')
  return truncate(escapeMrkdwn(plain), limit)
}

/** Cuts escaped mrkdwn to `limit` characters without breaking an entity or a surrogate pair. */
export function truncate(text: string, limit: number): string {
  if (text.length <= limit) return text
  let cut = limit - 1
  const amp = text.lastIndexOf('&', cut)
  if (amp !== -1 && amp > cut - 5 && !text.slice(amp, cut).includes(';')) cut = amp
  const code = text.charCodeAt(cut - 1)
  if (code >= 0xd800 && code <= 0xdbff) cut--
  return text.slice(0, cut) + '…'
}

/** The parent message's text in "title" mode: the template with the conversation filled in. */
export function threadTitle(template: string, message: RelayMessage): string {
  const values: Record<string, string> = { conversationId: message.conversationId, source: message.source }
  const title = template.replace(/\{(conversationId|source)\}/g, (_, key: string) =>
    escapeMrkdwn(neutraliseMentions(values[key] ?? ''))
  )
  return truncate(title, 3000)
}
