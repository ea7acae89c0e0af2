import { escapeMarkdown } from '@discordjs/formatters'
import type { Flow } from '../../src/markdown/flow.js'
import { splitFlow } from '../../src/markdown/split.js'
import { parseMarkdown, type Tokens } from '../../src/markdown/parse.js'
import { cellText, linkDestination, monospaceTable } from '../../src/markdown/text.js'
import { type Container, MarkdownWriter } from '../../src/markdown/writer.js'

const web = /^https?:\/\//i
const divider = '─'.repeat(24)

/**
 * Discord's Markdown, written from the tree. Discord differs from CommonMark where it matters:
 * `__x__` is underline there and `||x||` a spoiler (so text is escaped with @discordjs/formatters'
 * escapeMarkdown and strong is always `**`), only `#` to `###` are headings, quotes do not nest,
 * and tables, task lists and rules do not render (so they become an aligned monospace block,
 * ☐/☑ and a line of box-drawing characters).
 */
export class DiscordWriter extends MarkdownWriter {
  protected text(text: string): string {
    // Most words hold nothing escapeMarkdown would touch, and it runs a dozen patterns a call.
    return /[\\*_~`|]/.test(text) ? escapeMarkdown(text) : text
  }
  protected escape(token: Tokens.Escape): string {
    return /[\\*_~`|>#\-[\]()<:]/.test(token.text) ? `\\${token.text}` : token.text
  }
  protected strong(inner: string): string {
    return `**${inner}**`
  }
  protected em(inner: string): string {
    return `*${inner}*`
  }
  protected link(token: Tokens.Link, inner: string): string {
    if (!web.test(token.href))
      return inner === token.href || token.href === `mailto:${inner}` ? inner : `${inner} (${this.text(token.href)})`
    if (token.raw === token.href || token.raw === `<${token.href}>`) return token.href
    return `[${inner.replace(/[[\]]/g, '\\$&')}](${linkDestination(token.href)})`
  }
  protected image(token: Tokens.Image): string {
    const label = this.text(token.text || 'image').replace(/[[\]]/g, '\\$&')
    return web.test(token.href) ? `🖼️ [${label}](${linkDestination(token.href)})` : `🖼️ ${label}`
  }
  protected inlineHtml(token: Tokens.HTML | Tokens.Tag): string {
    return this.text(token.raw)
  }
  protected heading(depth: number, inner: string): string {
    return depth <= 3 ? `${'#'.repeat(depth)} ${inner}` : `**${inner}**`
  }
  protected override quoteMark(container: Container): string {
    return container.quoted ? '' : '> '
  }
  protected hr(container: Container): void {
    const start = this.lineStart(container)
    this.out.unit({ text: start.md + divider, plain: divider })
  }
  protected table(token: Tokens.Table, container: Container): void {
    const lines = monospaceTable(
      token.header.map(cell => cellText(cell.tokens)),
      token.rows.map(row => row.map(cell => cellText(cell.tokens))),
      token.align
    )
    const start = this.lineStart(container)
    this.codeLines(
      lines,
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

/** Relayed Markdown as a flow for Discord. */
export function discordFlow(markdown: string): Flow {
  return new DiscordWriter().render(parseMarkdown(markdown))
}

/** Discord Markdown split into texts of at most `limit` characters (or `limit(n)` for the n-th). */
export function discordTexts(markdown: string, limit: number | ((part: number) => number)): string[] {
  return splitFlow(discordFlow(markdown), { chars: limit }).map(post => post.text)
}
