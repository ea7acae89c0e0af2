import { splitFlow } from './split.js'
import { parseMarkdown, type Token, type Tokens, walkTree } from './parse.js'
import { monospaceTable, cellText } from './text.js'
import { type Container, MarkdownWriter } from './writer.js'

// C0 controls but tab and line feed, DEL, C1 controls (CSI and OSC among them), and the
// bidirectional overrides that make a line read other than it is.
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const unsafe = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g

/**
 * Makes text from outside (an end user's message, a conversation id) unable to act on a terminal:
 * ESC, BEL, carriage return and the other controls are shown as visible symbols (␛, ␇, ␍), so
 * a message can neither clear nor retitle the screen, and a line break in a one-line field
 * cannot forge another line. `multiline` keeps line breaks and tabs in message text.
 */
export function terminalSafe(text: string, multiline = false): string {
  return text.replace(unsafe, c => {
    const code = c.charCodeAt(0)
    if (multiline && (c === '\n' || c === '\t')) return c
    if (code < 0x20) return String.fromCharCode(0x2400 + code)
    if (code === 0x7f) return '␡'
    return `\\u${code.toString(16).padStart(4, '0')}`
  })
}

const style = (on: boolean, open: number, close: number) => (text: string) =>
  on ? `\x1b[${open}m${text}\x1b[${close}m` : text

/** Markdown for a terminal: emphasis as bold and italics when colour is on, links with their URLs. */
class TerminalWriter extends MarkdownWriter {
  private readonly bold: (text: string) => string
  private readonly italic: (text: string) => string
  private readonly dim: (text: string) => string

  constructor(private readonly color: boolean) {
    super()
    this.bold = style(color, 1, 22)
    this.italic = style(color, 3, 23)
    this.dim = style(color, 2, 22)
  }

  protected text(text: string): string {
    return text
  }
  protected escape(token: Tokens.Escape): string {
    return token.text
  }
  protected strong(inner: string): string {
    return this.color ? this.bold(inner) : `**${inner}**`
  }
  protected em(inner: string): string {
    return this.color ? this.italic(inner) : `_${inner}_`
  }
  protected override codespan(token: Tokens.Codespan): string {
    return this.color ? style(true, 36, 39)(token.text) : `\`${token.text}\``
  }
  protected link(token: Tokens.Link, inner: string): string {
    return inner === token.href ? token.href : `${inner} (${this.dim(token.href)})`
  }
  protected image(token: Tokens.Image): string {
    return `🖼 ${token.text || 'image'} (${this.dim(token.href)})`
  }
  protected inlineHtml(token: Tokens.HTML | Tokens.Tag): string {
    return token.raw
  }
  protected heading(depth: number, inner: string): string {
    return this.color ? this.bold(inner) : `${'#'.repeat(depth)} ${inner}`
  }
  protected override quoteMark(): string {
    return '│ '
  }
  protected hr(container: Container): void {
    const start = this.lineStart(container)
    this.out.unit({ text: start.md + this.dim('─'.repeat(40)), plain: '' })
  }
  protected table(token: Tokens.Table, container: Container): void {
    const lines = monospaceTable(
      token.header.map(cell => cellText(cell.tokens)),
      token.rows.map(row => row.map(cell => cellText(cell.tokens))),
      token.align
    )
    lines.forEach((line, i) => {
      const start = this.lineStart(container)
      if (i > 0) this.out.gap('\n', 3)
      this.out.unit({ text: start.md + (i === 1 ? this.dim(line) : line), plain: line })
    })
  }
}

/** A message's Markdown as it reads on a terminal; control characters in it never reach the terminal. */
export function renderTerminal(markdown: string, color = false): string {
  const tree = parseMarkdown(markdown)
  // After parsing, so that a control character written as a reference (`&#27;`) is caught too.
  walkTree(tree, safeToken)
  const flow = new TerminalWriter(color).render(tree)
  return splitFlow(flow, { chars: Number.POSITIVE_INFINITY })
    .map(post => post.text)
    .join('\n\n')
}

const fields = ['text', 'raw', 'href', 'lang', 'title'] as const

function safeToken(token: Token): void {
  const record = token as unknown as Record<string, unknown>
  for (const field of fields) {
    const value = record[field]
    if (typeof value === 'string') record[field] = terminalSafe(value, true)
  }
}
