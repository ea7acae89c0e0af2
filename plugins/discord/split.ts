/** A code fence open at some point of a document: its marker (``` or ~~~, perhaps longer) and info string. */
export interface Fence {
  marker: string
  info: string
}

/**
 * One part of a split document. `body` is a slice of the original (the bodies joined give the
 * original back); `reopen` and `close` are the fence lines added so that a code block cut in two
 * stays a code block, with its language, on both sides.
 */
export interface Piece {
  reopen: string
  body: string
  close: string
}

export const renderPiece = (piece: Piece): string => piece.reopen + piece.body + piece.close

interface Line {
  start: number
  /** Index of the line's `\n`, or the text's length for the last line. */
  end: number
  /** The fence open when the line begins. */
  fenceBefore: Fence | undefined
  /** The line opens or closes a fence: cutting inside it would break the fence. */
  fenceLine: boolean
}

// CommonMark: up to three spaces of indent, three or more backticks or tildes.
const OPENING = /^ {0,3}(`{3,}|~{3,})(.*)$/
const CLOSING = /^ {0,3}(`{3,}|~{3,})[ \t]*$/

/** The document's lines with the fence state at each, found once so every cut is cheap to judge. */
class Outline {
  readonly lines: Line[] = []
  readonly fenceAtEnd: Fence | undefined

  constructor(readonly text: string) {
    let fence: Fence | undefined
    for (let start = 0; ; ) {
      const newline = text.indexOf('\n', start)
      const end = newline === -1 ? text.length : newline
      const line = text.slice(start, end).replace(/\r$/, '')
      const fenceBefore = fence
      let fenceLine = false
      if (fence) {
        const m = CLOSING.exec(line)
        if (m && m[1]![0] === fence.marker[0] && m[1]!.length >= fence.marker.length) {
          fence = undefined
          fenceLine = true
        }
      } else {
        const m = OPENING.exec(line)
        // A backtick fence's info string may not contain a backtick (that is inline code).
        if (m && !(m[1]![0] === '`' && m[2]!.includes('`'))) {
          fence = { marker: m[1]!, info: m[2]!.trim() }
          fenceLine = true
        }
      }
      this.lines.push({ start, end, fenceBefore, fenceLine })
      if (newline === -1) break
      start = newline + 1
    }
    this.fenceAtEnd = fence
  }

  lineAt(pos: number): Line {
    let lo = 0
    let hi = this.lines.length - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1
      if (this.lines[mid]!.start <= pos) lo = mid
      else hi = mid - 1
    }
    return this.lines[lo]!
  }

  /** The fence open at a position that is a line start or inside an ordinary line. */
  fenceAt(pos: number): Fence | undefined {
    return pos >= this.text.length ? this.fenceAtEnd : this.lineAt(pos).fenceBefore
  }
}

const isHigh = (code: number) => code >= 0xd800 && code <= 0xdbff
const isLow = (code: number) => code >= 0xdc00 && code <= 0xdfff

// Kinds of cut, best first.
const PARAGRAPH = 0
const LINE = 1
const LINE_IN_CODE = 2
const WORD = 3
const ANYWHERE = 4

/** How good a cut before `pos` is, or undefined when it must not be cut there. */
function cutKind(outline: Outline, pos: number): number | undefined {
  const { text } = outline
  if (isHigh(text.charCodeAt(pos - 1)) && isLow(text.charCodeAt(pos))) return undefined
  const line = outline.lineAt(pos)
  if (line.fenceLine && pos > line.start) return undefined
  const atLineStart = text[pos - 1] === '\n'
  if (!atLineStart) {
    // Text moved to a part's first line could become a fence that was not one in the original.
    if (/^ {0,3}(```|~~~)/.test(text.slice(pos, pos + 6))) return undefined
    return text[pos - 1] === ' ' || text[pos - 1] === '\t' ? WORD : ANYWHERE
  }
  if (line.fenceBefore) return LINE_IN_CODE
  const previous = outline.lineAt(pos - 1)
  const blank = text.slice(previous.start, previous.end).trim() === ''
  return blank || previous.fenceLine ? PARAGRAPH : LINE
}

/** The best place to end a piece that starts at `from` and may reach `to`. */
function chooseCut(outline: Outline, from: number, to: number): number {
  const best: (number | undefined)[] = []
  for (let pos = to; pos > from; pos--) {
    const kind = cutKind(outline, pos)
    if (kind !== undefined && best[kind] === undefined) best[kind] = pos
    // Scanning down, the first cut of a kind is its longest; nothing below a paragraph break beats it.
    if (best[PARAGRAPH] !== undefined) break
  }
  // Structure wins while the part stays at least half full; past that, fill the part.
  const halfFull = from + (to - from) / 2
  for (const kind of [PARAGRAPH, LINE, LINE_IN_CODE, WORD]) {
    const pos = best[kind]
    if (pos !== undefined && pos >= halfFull) return pos
  }
  const lineCut = Math.max(best[PARAGRAPH] ?? 0, best[LINE] ?? 0, best[LINE_IN_CODE] ?? 0)
  if (lineCut > from) return lineCut
  return best[WORD] ?? best[ANYWHERE] ?? to
}

function reopenFor(fence: Fence | undefined, limit: number): string {
  if (!fence || fence.marker.length > limit / 8) return ''
  const language = fence.info.split(/\s+/)[0] ?? ''
  const info = fence.info.length <= 64 ? fence.info : language.length <= 64 ? language : ''
  return `${fence.marker}${info}\n`
}

function closeFor(fence: Fence | undefined, body: string, limit: number): string {
  if (!fence || fence.marker.length > limit / 8) return ''
  return (body === '' || body.endsWith('\n') ? '' : '\n') + fence.marker
}

/**
 * Cuts `text` into pieces that each render within `limit` characters (UTF-16 units, which is
 * never fewer than Discord counts): on a paragraph, else a line, else a word, else anywhere but
 * inside a surrogate pair. A code block cut in two is closed and reopened with its language.
 */
export function splitPieces(text: string, limit: number): Piece[] {
  if (!Number.isInteger(limit) || limit < 32)
    throw new RangeError(`split limit must be an integer of at least 32, got ${limit}`)
  const outline = new Outline(text)
  const pieces: Piece[] = []
  let from = 0
  while (from < text.length) {
    const reopen = reopenFor(outline.fenceAt(from), limit)
    let to = Math.min(text.length, from + limit - reopen.length)
    for (;;) {
      const cut = to === text.length ? to : chooseCut(outline, from, to)
      const body = text.slice(from, cut)
      const close = closeFor(outline.fenceAt(cut), body, limit)
      const over = reopen.length + body.length + close.length - limit
      if (over <= 0) {
        pieces.push({ reopen, body, close })
        from = cut
        break
      }
      to = cut - over
      if (to <= from) {
        // Only a fence marker longer than the part itself gets here: give up on balancing it.
        const step = isHigh(text.charCodeAt(from)) && isLow(text.charCodeAt(from + 1)) ? 2 : 1
        pieces.push({ reopen: '', body: text.slice(from, from + step), close: '' })
        from += step
        break
      }
    }
  }
  return pieces
}

/** The parts to post, in order; parts that would be blank (Discord rejects those) are left out. */
export function splitText(text: string, limit: number): string[] {
  return splitPieces(text, limit)
    .map(renderPiece)
    .filter(part => part.trim() !== '')
}
