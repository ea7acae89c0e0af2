import stringWidth from 'string-width'
import type { Token } from './parse.js'

const graphemeSegmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' })

/** The user-perceived characters of a text: an emoji with its modifiers, a letter with its accents. */
export function graphemes(text: string): string[] {
  return Array.from(graphemeSegmenter.segment(text), s => s.segment)
}

/**
 * The last place at or before `index` where a text may be cut without splitting a character (a
 * grapheme cluster or a surrogate pair). Only the segment around the index is looked at.
 */
export function graphemeCut(text: string, index: number): number {
  if (index <= 0) return 0
  if (index >= text.length) return text.length
  const around = graphemeSegmenter.segment(text).containing(index)
  if (around && around.index > 0) return around.index
  // A single grapheme longer than the room: at least keep surrogate pairs whole.
  const code = text.charCodeAt(index - 1)
  return code >= 0xd800 && code <= 0xdbff ? index - 1 : index
}

/**
 * Cuts a text to at most `max` UTF-16 units, never inside a character (grapheme cluster or
 * surrogate pair), marking the cut with an ellipsis. Every relay's one helper for this.
 */
export function shorten(text: string, max: number, mark = '…'): string {
  if (text.length <= max) return text
  return text.slice(0, graphemeCut(text, max - mark.length)) + mark
}

/** A URL as a Markdown link destination: what would end it early or start something else is percent-encoded. */
export function linkDestination(url: string): string {
  return url.replace(/[()<>\\\s"'`]/g, c => '%' + c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0'))
}

// Characters whose width is one code unit each and settled by their block: printable ASCII,
// Latin-1 to Latin Extended (narrow), CJK punctuation, kana, Han, Hangul, full-width forms (wide).
const simpleWide =
  /^[\x20-\x7e\u00a0-\u00ac\u00ae-\u024f\u3000-\u3029\u3030-\u303e\u3041-\u3096\u309b-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7a3\uff01-\uff60\uffe0-\uffe6]*$/
const wide =
  /[\u3000-\u3029\u3030-\u303e\u3041-\u3096\u309b-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7a3\uff01-\uff60\uffe0-\uffe6]/g

/** Columns a text takes in a monospace font: East Asian wide characters and emoji count two. */
export function displayWidth(text: string): number {
  // Printable ASCII, the common case, is one column a character: no need to segment it.
  if (/^[\x20-\x7e]*$/.test(text)) return text.length
  // Latin and the Han, kana and Hangul of most CJK answers, counted without segmenting graphemes.
  if (simpleWide.test(text)) return text.length + (text.match(wide)?.length ?? 0)
  return stringWidth(text, { countAnsiEscapeCodes: false })
}

/** An inline tree as plain text: the words without Markdown; a link keeps its URL when its label differs. */
export function plainInline(tokens: Token[] | undefined): string {
  let out = ''
  for (const token of tokens ?? []) out += plainToken(token)
  return out
}

function plainToken(token: Token): string {
  switch (token.type) {
    case 'text':
      return 'tokens' in token && token.tokens ? plainInline(token.tokens) : token.text
    case 'escape':
      return token.text
    case 'codespan':
      return token.text
    case 'br':
      return '\n'
    case 'link': {
      const label = plainInline(token.tokens)
      if (token.href === `mailto:${label}`) return label
      return label === token.href || token.href.endsWith(label) ? token.href : `${label} (${token.href})`
    }
    case 'image':
      return token.text ? `${token.text} (${token.href})` : token.href
    case 'html':
      return token.raw
    case 'checkbox':
      return ''
    default:
      return 'tokens' in token && Array.isArray(token.tokens) ? plainInline(token.tokens) : (token.raw ?? '')
  }
}

export type Align = 'left' | 'right' | 'center' | null

/**
 * A table laid out for a monospace font: columns padded to the widest cell by display width (so
 * Chinese and Japanese line up), a rule under the header. One line per row.
 */
export function monospaceTable(header: string[], rows: string[][], align: Align[]): string[] {
  const columns = Math.max(header.length, ...rows.map(r => r.length))
  const measured = [header, ...rows].map(row =>
    Array.from({ length: columns }, (_, c) => {
      const text = row[c] ?? ''
      return { text, width: displayWidth(text) }
    })
  )
  const widths = Array.from({ length: columns }, (_, c) => Math.max(1, ...measured.map(row => row[c]?.width ?? 0)))
  const line = (cells: { text: string; width: number }[]) =>
    cells
      .map((cell, c) => pad(cell, widths[c] ?? 0, align[c] ?? null))
      .join(' │ ')
      .trimEnd()
  const rule = widths.map(width => '─'.repeat(width)).join('─┼─')
  const [head, ...body] = measured
  return [line(head ?? []), rule, ...body.map(line)]
}

function pad(cell: { text: string; width: number }, width: number, align: Align): string {
  const room = width - cell.width
  if (room <= 0) return cell.text
  if (align === 'right') return ' '.repeat(room) + cell.text
  if (align === 'center') return ' '.repeat(room >> 1) + cell.text + ' '.repeat(room - (room >> 1))
  return cell.text + ' '.repeat(room)
}

/** A table cell as one line of plain text. */
export function cellText(tokens: Token[] | undefined): string {
  return plainInline(tokens)
    .replace(/\s*\n\s*/g, ' ')
    .trim()
}
