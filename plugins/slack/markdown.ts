import { type Flow, Rank } from '../../src/markdown/flow.js'
import { parseMarkdown, type Tokens } from '../../src/markdown/parse.js'
import { cellText, linkDestination, monospaceTable } from '../../src/markdown/text.js'
import { type Container, MarkdownWriter } from '../../src/markdown/writer.js'

/** Slack's `table` block limits (its block reference): rows, cells per row, column settings. */
export const tableLimits = { rows: 100, cells: 20 } as const

export interface TableBlock {
  type: 'table'
  rows: { type: 'raw_text'; text: string }[][]
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
      this.out.unit({ text: '', plain, block: tableBlock(header, rows, columns, token.align), endsPost: true })
      return
    }
    // Too big for a table block: a monospace table, cut between rows when it must be.
    const start = this.lineStart(container)
    this.codeLines(monospaceTable(header, rows, token.align), {
      open: `${start.md}\`\`\``,
      reopen: '```',
      close: `${container.rest}\`\`\``,
      indent: container.rest
    })
  }
}

/** A zero-width space where emphasis touches a letter: Slack then sees the marker as a word edge. */
function boundary(neighbour: string): string {
  return letter.test(neighbour) ? zeroWidthSpace : ''
}

function tableBlock(header: string[], rows: string[][], columns: number, align: Tokens.Table['align']): TableBlock {
  const row = (cells: string[]) =>
    Array.from({ length: columns }, (_, c) => ({ type: 'raw_text' as const, text: cells[c] || ' ' }))
  const all = [header, ...rows]
  const settings = Array.from({ length: columns }, (_, c) => {
    const wrapped = all.some(cells => (cells[c] ?? '').length > 30)
    const setting: { align?: 'left' | 'center' | 'right'; is_wrapped?: boolean } = {}
    if (align[c]) setting.align = align[c] as 'left' | 'center' | 'right'
    if (wrapped) setting.is_wrapped = true
    return setting
  })
  const block: TableBlock = { type: 'table', rows: all.map(row) }
  if (settings.some(s => Object.keys(s).length > 0)) block.column_settings = settings
  return block
}

/** Relayed Markdown as a flow for Slack. */
export function slackFlow(markdown: string): Flow {
  return new SlackWriter().render(parseMarkdown(markdown))
}

export { Rank }
