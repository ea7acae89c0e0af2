import { type Flow, FlowBuilder, type Fence, Rank, type Unit } from './flow.js'
import type { MarkdownTree, Token, Tokens } from './parse.js'
import { plainInline } from './text.js'

/** Where lines start inside nested blocks: the prefix of the next line, then of the lines after it. */
export interface Container {
  first: string
  rest: string
  plainFirst: string
  plainRest: string
  depth: number
  quoted: boolean
}

const top = (): Container => ({ first: '', rest: '', plainFirst: '', plainRest: '', depth: 0, quoted: false })

/** Places to cut inside a long run of Chinese or Japanese, which has no spaces: after a sentence. */
const cjkSentenceEnd = /(?<=[。！？；])/
const cjkStop = /[。！？；]/

/**
 * Walks the tree once and writes a flow for the splitter: each platform says, by overriding the
 * inline and block forms below, how it writes what the tree holds. The container prefixes
 * (list markers, quote marks) stay on the units, so any post starts with readable Markdown.
 */
export abstract class MarkdownWriter {
  protected out = new FlowBuilder()

  render(tree: MarkdownTree): Flow {
    this.out = new FlowBuilder()
    this.blocks(tree, top(), true)
    return this.out.flow()
  }

  // ---- what a platform decides -----------------------------------------------------------------

  /** Plain text as it must be written to show as itself. */
  protected abstract text(text: string): string
  protected abstract escape(token: Tokens.Escape): string
  protected abstract strong(inner: string, before: string, after: string): string
  protected abstract em(inner: string, before: string, after: string): string
  protected del(inner: string, _before: string, _after: string): string {
    return `~~${inner}~~`
  }
  protected codespan(token: Tokens.Codespan): string {
    return token.raw
  }
  protected abstract link(token: Tokens.Link, inner: string): string
  protected abstract image(token: Tokens.Image): string
  protected abstract inlineHtml(token: Tokens.HTML | Tokens.Tag): string
  /** A heading, as the one line it is written on. */
  protected abstract heading(depth: number, inner: string): string
  protected abstract hr(container: Container): void
  protected abstract table(token: Tokens.Table, container: Container): void
  protected quoteMark(_container: Container): string {
    return '> '
  }
  protected taskMark(checked: boolean): string {
    return checked ? '☑ ' : '☐ '
  }
  protected codeLanguage(lang: string | undefined): string {
    return (lang ?? '').trim().split(/\s+/)[0] ?? ''
  }

  // ---- blocks ----------------------------------------------------------------------------------

  protected blocks(tokens: Token[], container: Container, loose: boolean): void {
    let previous: Token | undefined
    let blank = false
    for (const token of tokens) {
      if (token.type === 'space') {
        blank = true
        continue
      }
      if (token.type === 'def' || token.type === 'checkbox') continue
      if (previous) {
        // Where the author put no blank line between two blocks, none is added.
        const tight = !loose || (!blank && !previous.raw.endsWith('\n\n'))
        // A heading stays with what follows it: the post ends before the heading instead.
        const rank = previous.type === 'heading' ? Rank.softBreak : container.depth === 0 ? Rank.block : Rank.nested
        const join = tight ? '\n' : `\n${container.rest.trimEnd()}\n`
        this.out.gap(join, rank, tight ? '\n' : '\n\n')
      }
      this.block(token, container)
      previous = token
      blank = false
    }
  }

  protected block(token: Token, container: Container): void {
    switch (token.type) {
      case 'paragraph':
        this.inline(token.tokens ?? [], container)
        break
      case 'text':
        this.inline(token.tokens ?? [{ type: 'text', raw: token.raw, text: token.text }], container)
        break
      case 'heading': {
        const start = this.lineStart(container)
        this.out.unit({
          text: start.md + this.heading(token.depth, this.inlineString(token.tokens)),
          plain: start.plain + plainInline(token.tokens)
        })
        break
      }
      case 'code':
        this.code(token as Tokens.Code, container)
        break
      case 'blockquote': {
        const mark = this.quoteMark(container)
        const begin = this.lineStart(container)
        const quote: Container = {
          first: begin.md + mark,
          rest: container.rest + mark,
          plainFirst: begin.plain,
          plainRest: container.plainRest,
          depth: container.depth + 1,
          quoted: true
        }
        this.blocks(token.tokens ?? [], quote, true)
        break
      }
      case 'list':
        this.list(token as Tokens.List, container)
        break
      case 'table':
        this.table(token as Tokens.Table, container)
        break
      case 'hr':
        this.hr(container)
        break
      default:
        // HTML blocks and anything else: shown as the text the author wrote.
        this.inline([{ type: 'text', raw: token.raw, text: token.raw.trimEnd() }], container)
    }
  }

  /** The prefix of the line about to start; later lines of the container get its `rest`. */
  protected lineStart(container: Container): { md: string; plain: string } {
    const start = { md: container.first, plain: container.plainFirst }
    container.first = container.rest
    container.plainFirst = container.plainRest
    return start
  }

  protected code(token: Tokens.Code, container: Container): void {
    const text = token.text
    const longest = Math.max(0, ...Array.from(text.matchAll(/`+/g), m => m[0].length))
    const marker = '`'.repeat(Math.max(3, longest + 1))
    const language = this.codeLanguage(token.lang)
    const start = this.lineStart(container)
    this.codeLines(text.split('\n'), {
      open: start.md + marker + language,
      reopen: marker + language,
      close: container.rest + marker,
      indent: container.rest
    })
  }

  /**
   * Writes lines as a code block, one unit each. The first `head` lines (a table's header and
   * rule) stay with the line after them and are repeated in every post the block continues in.
   */
  protected codeLines(lines: string[], fence: Fence, head = 0): void {
    if (head > 0 && lines.length > head) fence.repeat = lines.slice(0, head)
    lines.forEach((line, i) => {
      // After a blank line (between two functions, say) is a better place to cut than any line.
      if (i > 0) this.out.gap('\n', i <= head ? Rank.never : lines[i - 1] ? Rank.line : Rank.nested)
      const unit: Unit = { text: line ? fence.indent + line : fence.indent.trimEnd(), plain: line, fence }
      if (i < head) unit.head = true
      this.out.unit(unit)
    })
  }

  protected list(list: Tokens.List, container: Container): void {
    const start = typeof list.start === 'number' ? list.start : 1
    list.items.forEach((item, i) => {
      const marker = list.ordered ? `${start + i}. ` : '- '
      const plainMarker = list.ordered ? marker : '• '
      const task = item.task ? this.taskMark(Boolean(item.checked)) : ''
      if (i > 0) {
        const rank = container.depth === 0 ? Rank.item : Rank.nested
        if (list.loose) this.out.gap(`\n${container.rest.trimEnd()}\n`, rank, '\n')
        else this.out.gap('\n', rank)
      }
      const begin = this.lineStart(container)
      const inner: Container = {
        first: begin.md + marker + task,
        rest: container.rest + ' '.repeat(marker.length),
        plainFirst: begin.plain + plainMarker + task,
        plainRest: container.plainRest + '  ',
        depth: container.depth + 1,
        quoted: container.quoted
      }
      this.blocks(item.tokens, inner, list.loose)
      // An empty item still shows its marker.
      if (inner.first === begin.md + marker + task)
        this.out.unit({ text: inner.first.trimEnd(), plain: inner.plainFirst })
    })
  }

  // ---- inline ----------------------------------------------------------------------------------

  /** A paragraph's inline content as word units: links, code spans and emphasis are never cut. */
  protected inline(tokens: Token[], container: Container): void {
    const start = this.lineStart(container)
    let word = start.md
    let plain = start.plain
    let filled = false
    const flush = () => {
      if (!filled) return
      this.out.unit({ text: word, plain })
      word = ''
      plain = ''
      filled = false
    }
    const newLine = () => {
      flush()
      this.out.gap('\n', Rank.softBreak)
      const next = this.lineStart(container)
      word = next.md
      plain = next.plain
    }
    tokens.forEach((token, k) => {
      if (token.type === 'text' && !('tokens' in token && token.tokens?.length)) {
        const pieces: string[] = String(token.text).split(/( +|\n[ \t]*)/)
        pieces.forEach((piece, p) => {
          if (p % 2 === 1) {
            if (piece.startsWith('\n')) newLine()
            else {
              flush()
              this.out.gap(' ', Rank.word)
            }
            return
          }
          const sentences: string[] = cjkStop.test(piece) ? piece.split(cjkSentenceEnd) : [piece]
          sentences.forEach((sentence, s) => {
            if (s > 0) {
              flush()
              this.out.gap('', Rank.word)
            }
            if (!sentence) return
            word += this.text(sentence)
            plain += sentence
            filled = true
          })
        })
        return
      }
      if (token.type === 'br') {
        newLine()
        return
      }
      // A task item's box, inside the paragraph of a loose item: the item's marker shows it.
      if (token.type === 'checkbox') return
      word += this.inlineToken(token, lastChar(tokens[k - 1]), firstChar(tokens[k + 1]))
      plain += plainInline([token])
      filled = true
    })
    flush()
  }

  /** Inline tokens written as one string, never cut. */
  protected inlineString(tokens: Token[] | undefined): string {
    let out = ''
    ;(tokens ?? []).forEach((token, k, all) => {
      out += this.inlineToken(token, lastChar(all[k - 1]), firstChar(all[k + 1]))
    })
    return out
  }

  protected inlineToken(token: Token, before: string, after: string): string {
    switch (token.type) {
      case 'text':
        return 'tokens' in token && token.tokens?.length
          ? this.inlineString(token.tokens)
          : this.text(token.text.replace(/\n[ \t]*/g, ' '))
      case 'escape':
        return this.escape(token as Tokens.Escape)
      case 'strong':
        return this.strong(this.inlineString(token.tokens), before, after)
      case 'em':
        return this.em(this.inlineString(token.tokens), before, after)
      case 'del':
        return this.del(this.inlineString(token.tokens), before, after)
      case 'codespan':
        return this.codespan(token as Tokens.Codespan)
      case 'link':
        return this.link(token as Tokens.Link, this.inlineString(token.tokens))
      case 'image':
        return this.image(token as Tokens.Image)
      case 'html':
        return this.inlineHtml(token as Tokens.HTML)
      case 'br':
        return ' '
      default:
        return this.text(token.raw)
    }
  }
}

function lastChar(token: Token | undefined): string {
  return token ? (token.raw.at(-1) ?? '') : ''
}

function firstChar(token: Token | undefined): string {
  return token ? (token.raw[0] ?? '') : ''
}
