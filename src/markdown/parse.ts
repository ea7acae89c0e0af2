import { decodeNamedCharacterReference } from 'decode-named-character-reference'
import { Lexer, type Token, type Tokens } from 'marked'

/*
 * Why marked's lexer rather than micromark/mdast: both parse CommonMark with GFM (tables, task
 * lists, strikethrough, autolinks), but on a 20,000-character answer marked's lexer measured 20 to
 * 40 times faster here (micromark took tens to hundreds of milliseconds), and the relay parses
 * every message it delivers. Its tokens keep each node's source (`raw`), which lets a renderer
 * keep what the author wrote where it need not change it.
 */

export type { Token, Tokens }

/** A parsed message: marked's block tokens, each with its inline tokens. */
export type MarkdownTree = Token[]

/**
 * Parses relayed Markdown (CommonMark with GitHub's extensions) once, for every renderer. Entity
 * and numeric character references are decoded where CommonMark decodes them (text, link
 * destinations, image descriptions; never code or raw HTML), which marked leaves to its HTML output.
 */
export function parseMarkdown(markdown: string): MarkdownTree {
  const tree = new Lexer({ gfm: true }).lex(markdown.replace(/\r\n?/g, '\n'))
  if (markdown.includes('&')) walkTree(tree, decodeToken)
  return tree
}

/** Calls `visit` on every token of a tree: blocks, list items, table cells and inline tokens. */
export function walkTree(tokens: Token[], visit: (token: Token) => void): void {
  for (const token of tokens) {
    visit(token)
    switch (token.type) {
      case 'list':
        walkTree((token as Tokens.List).items, visit)
        break
      case 'table': {
        const table = token as Tokens.Table
        for (const cell of table.header) walkTree(cell.tokens, visit)
        for (const row of table.rows) for (const cell of row) walkTree(cell.tokens, visit)
        break
      }
      default:
        if ('tokens' in token && Array.isArray(token.tokens)) walkTree(token.tokens, visit)
    }
  }
}

function decodeToken(token: Token): void {
  switch (token.type) {
    case 'text':
      if (!('tokens' in token && token.tokens?.length)) token.text = decodeReferences(token.text)
      break
    case 'link':
      token.href = decodeReferences(token.href)
      break
    case 'image':
      token.href = decodeReferences(token.href)
      token.text = decodeReferences(token.text)
      break
  }
}

const reference = /&(?:#(\d{1,7})|#[xX]([0-9a-fA-F]{1,6})|([A-Za-z][A-Za-z0-9]{1,31}));/g

/**
 * Decodes HTML entity references (`&amp;`, `&copy;`) and numeric character references
 * (`&#20013;`, `&#x4e2d;`) as CommonMark does: unknown names stay as typed, and a number that is no
 * character (0, a surrogate, beyond U+10FFFF) becomes U+FFFD.
 */
export function decodeReferences(text: string): string {
  if (!text.includes('&')) return text
  return text.replace(reference, (whole, decimal?: string, hex?: string, name?: string) => {
    if (name) {
      const decoded = decodeNamedCharacterReference(name)
      return decoded === false ? whole : decoded
    }
    const code = decimal ? Number.parseInt(decimal, 10) : Number.parseInt(hex as string, 16)
    const valid = code > 0 && code <= 0x10ffff && (code < 0xd800 || code > 0xdfff)
    return String.fromCodePoint(valid ? code : 0xfffd)
  })
}
