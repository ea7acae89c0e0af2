import { type Flow, Rank } from '../../src/markdown/flow.js'
import { parseMarkdown, type Token, type Tokens } from '../../src/markdown/parse.js'
import { cellText, linkDestination, monospaceTable } from '../../src/markdown/text.js'
import { type Container, MarkdownWriter } from '../../src/markdown/writer.js'

/** Slack's `table` block limits (its block reference): rows, cells per row, column settings. */
export const tableLimits = { rows: 100, cells: 20 } as const

/** Styles a rich text element may carry. */
export interface TextStyle {
  bold?: boolean
  italic?: boolean
  strike?: boolean
  code?: boolean
}

/** What a rich_text cell's one section holds: text runs and links, each with its style. */
export type CellElement =
  | { type: 'text'; text: string; style?: TextStyle }
  | { type: 'link'; url: string; text?: string; style?: TextStyle }

export type TableCell =
  | { type: 'raw_text'; text: string }
  | { type: 'rich_text'; elements: [{ type: 'rich_text_section'; elements: CellElement[] }] }

export interface TableBlock {
  type: 'table'
  rows: TableCell[][]
  column_settings?: ({ align?: 'left' | 'center' | 'right'; is_wrapped?: boolean } | null)[]
}

const entity = /&(?=#\d{1,7};|#x[0-9a-f]{1,6};|[a-z][a-z0-9]{1,31};)/gi
const letter = /[\p{L}\p{N}]/u
const zeroWidthSpace = '\u200b'

/**
 * Standard Markdown for Slack's `markdown` block, written from the tree: `<` and entity-looking
 * `&` escaped so they show as typed, emphasis next to letters (Chinese, Japanese) given the
 * word boundary Slack's parser looks for, tables as `table` blocks, rules as dividers.
 */
export class SlackWriter extends MarkdownWriter {
  protected text(text: string): string {
    // Most words hold neither: skip the two passes for them.
    if (!text.includes('<') && !text.includes('&')) return text
    return text.replace(/</g, '\\<').replace(entity, '\\&')
  }
  protected escape(token: Tokens.Escape): string {
    return token.raw
  }
  protected strong(inner: string, before: string, after: string): string {
    return `${boundary(before)}**${inner}**${boundary(after)}`
  }
  protected em(inner: string, before: string, after: string): string {
    // `_` inside a word is no emphasis in CommonMark; `*` is.
    const mark = letter.test(before) || letter.test(after) ? '*' : '_'
    return `${boundary(before)}${mark}${inner}${mark}${boundary(after)}`
  }
  protected override del(inner: string, before: string, after: string): string {
    return `${boundary(before)}~~${inner}~~${boundary(after)}`
  }
  protected link(token: Tokens.Link, inner: string): string {
    if (token.raw === token.href || token.raw === `<${token.href}>`) return token.raw
    return `[${inner}](${linkDestination(token.href)})`
  }
  protected image(token: Tokens.Image): string {
    return `🖼️ [${this.text(token.text || 'image')}](${linkDestination(token.href)})`
  }
  protected inlineHtml(token: Tokens.HTML | Tokens.Tag): string {
    return this.text(token.raw)
  }
  protected heading(depth: number, inner: string): string {
    return `${'#'.repeat(depth)} ${inner}`
  }
  protected hr(): void {
    this.out.unit({ text: '', plain: '', block: { type: 'divider' } })
  }
  protected table(token: Tokens.Table, container: Container): void {
    const header = token.header.map(cell => cellText(cell.tokens))
    const rows = token.rows.map(row => row.map(cell => cellText(cell.tokens)))
    const columns = Math.max(header.length, ...rows.map(row => row.length))
    const plain = [header, ...rows].map(row => row.join(' | ')).join('\n')
    if (rows.length + 1 <= tableLimits.rows && columns <= tableLimits.cells) {
      const cells = [token.header, ...token.rows].map(row => row.map(cell => tableCell(cell.tokens)))
      const block = tableBlock(cells, columns, token.align)
      this.out.unit({ text: '', plain, block, table: true })
      return
    }
    // Too big for a table block: a monospace table, cut between rows when it must be.
    const start = this.lineStart(container)
    this.codeLines(
      monospaceTable(header, rows, token.align),
      {
        open: `${start.md}\`\`\``,
        reopen: '```',
        close: `${container.rest}\`\`\``,
        indent: container.rest
      },
      2
    )
  }
}

/** A zero-width space where emphasis touches a letter: Slack then sees the marker as a word edge. */
function boundary(neighbour: string): string {
  return letter.test(neighbour) ? zeroWidthSpace : ''
}

function tableBlock(cells: TableCell[][], columns: number, align: Tokens.Table['align']): TableBlock {
  const row = (row: TableCell[]) => Array.from({ length: columns }, (_, c) => row[c] ?? rawCell(''))
  const settings = Array.from({ length: columns }, (_, c) => {
    const wrapped = cells.some(row => shownLength(row[c]) > 30)
    const setting: { align?: 'left' | 'center' | 'right'; is_wrapped?: boolean } = {}
    if (align[c]) setting.align = align[c] as 'left' | 'center' | 'right'
    if (wrapped) setting.is_wrapped = true
    return setting
  })
  const block: TableBlock = { type: 'table', rows: cells.map(row) }
  if (settings.some(s => Object.keys(s).length > 0)) block.column_settings = settings
  return block
}

/** The characters a cell shows: a link shows its label, or its URL when it has none. */
function shownLength(cell: TableCell | undefined): number {
  if (!cell) return 0
  if (cell.type === 'raw_text') return cell.text.length
  let length = 0
  for (const element of cell.elements[0].elements)
    length += element.type === 'link' ? (element.text ?? element.url).length : element.text.length
  return length
}

/** Slack wants a cell's text non-empty: an empty cell holds a space. */
const rawCell = (text: string): TableCell => ({ type: 'raw_text', text: text || ' ' })

const web = /^(?:https?:\/\/|mailto:)/i

/**
 * A table cell as Slack shows it: plain text as `raw_text`; a cell with emphasis, code or links
 * as a `rich_text` cell, one section of styled text runs and links, so they keep their form.
 */
export function tableCell(tokens: Token[] | undefined): TableCell {
  const elements: CellElement[] = []
  const add = (text: string, style: TextStyle) => {
    if (!text) return
    const last = elements.at(-1)
    if (last?.type === 'text' && sameStyle(last.style, style)) last.text += text
    else elements.push(styled({ type: 'text', text }, style))
  }
  const walk = (list: Token[] | undefined, style: TextStyle) => {
    for (const token of list ?? []) {
      switch (token.type) {
        case 'strong':
          walk(token.tokens, { ...style, bold: true })
          break
        case 'em':
          walk(token.tokens, { ...style, italic: true })
          break
        case 'del':
          walk(token.tokens, { ...style, strike: true })
          break
        case 'codespan':
          add(token.text, { ...style, code: true })
          break
        case 'link':
        case 'image': {
          const label = cellText(
            token.type === 'link' ? token.tokens : [{ type: 'text', raw: token.text, text: token.text }]
          )
          if (!web.test(token.href)) add(label === token.href ? label : `${label} (${token.href})`, style)
          else {
            const link: CellElement = { type: 'link', url: token.href }
            if (label && label !== token.href) link.text = label
            elements.push(styled(link, style))
          }
          break
        }
        case 'br':
          add(' ', style)
          break
        case 'text':
          if ('tokens' in token && token.tokens?.length) walk(token.tokens, style)
          else add(token.text.replace(/\s*\n\s*/g, ' '), style)
          break
        case 'escape':
          add(token.text, style)
          break
        default:
          add(token.raw, style)
      }
    }
  }
  walk(tokens, {})
  trimEdges(elements)
  if (elements.every(e => e.type === 'text' && !e.style))
    return rawCell(elements.map(e => (e as { text: string }).text).join(''))
  return { type: 'rich_text', elements: [{ type: 'rich_text_section', elements }] }
}

function styled<T extends CellElement>(element: T, style: TextStyle): T {
  if (Object.keys(style).length > 0) element.style = { ...style }
  return element
}

function sameStyle(a: TextStyle | undefined, b: TextStyle): boolean {
  const keys = ['bold', 'italic', 'strike', 'code'] as const
  return keys.every(key => Boolean(a?.[key]) === Boolean(b[key]))
}

/** Leading and trailing blanks of a cell go, and runs left empty with them. */
function trimEdges(elements: CellElement[]): void {
  const first = elements[0]
  if (first?.type === 'text') first.text = first.text.trimStart()
  const last = elements.at(-1)
  if (last?.type === 'text') last.text = last.text.trimEnd()
  for (let i = elements.length - 1; i >= 0; i--) {
    const element = elements[i] as CellElement
    if (element.type === 'text' && !element.text) elements.splice(i, 1)
  }
}

/** Relayed Markdown as a flow for Slack. */
export function slackFlow(markdown: string): Flow {
  return new SlackWriter().render(parseMarkdown(markdown))
}

export { Rank }
