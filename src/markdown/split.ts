import type { Fence, Flow, Gap, Unit } from './flow.js'
import { Rank } from './flow.js'
import { graphemeCut } from './text.js'

/** What one post may hold. */
export interface PostLimits {
  /** Characters of text (UTF-16 units, never fewer than a platform counts), per post or for post n. */
  chars: number | ((post: number) => number)
  /** Blocks per post, where each platform block and each run of text between them is one. */
  blocks?: number
  /** Table blocks per post (Slack allows one table a message). */
  tables?: number
}

/** A run of text, or a platform block, of one post. */
export type Segment = { text: string; plain: string } | { block: unknown; plain: string }

export interface Post {
  segments: Segment[]
  /** The post's text segments, joined: all of it on platforms without blocks. */
  text: string
  /** The post as plain text. */
  plain: string
}

/**
 * Splits a rendered flow into posts within the limits. A post ends between two messages of a
 * combined post where it can, else at the best gap in its second half (between blocks, then list
 * items, code lines, line breaks, words), else at the last gap that fits; a post holding its
 * last allowed table ends only when another table comes. A code block cut in two is closed and
 * opened again with its language. A unit longer than a whole post (a giant word, a code line) is
 * cut between graphemes. Nothing is dropped but the joins at the cuts.
 */
export function splitFlow(flow: Flow, limits: PostLimits): Post[] {
  const charsOf = typeof limits.chars === 'number' ? () => limits.chars as number : limits.chars
  const smallest = Math.min(charsOf(0), charsOf(1))
  const { units, gaps } = fitUnits(flow, smallest)
  const max = {
    blocks: limits.blocks ?? Number.POSITIVE_INFINITY,
    tables: limits.tables ?? Number.POSITIVE_INFINITY,
    smallest
  }
  const posts: Post[] = []
  let start = 0
  while (start < units.length) {
    const limit = charsOf(posts.length)
    const end = chooseEnd(units, gaps, start, limit, max)
    const builder = new PostBuilder(units, gaps, smallest)
    for (let i = start; i <= end; i++) builder.add(i)
    const post = builder.finish()
    if (post.segments.length > 0) posts.push(post)
    start = end + 1
  }
  return posts
}

/** The index of the last unit of the post that starts at `start`. */
function chooseEnd(
  units: Unit[],
  gaps: Gap[],
  start: number,
  limit: number,
  max: { blocks: number; tables: number; smallest: number }
): number {
  const builder = new PostBuilder(units, gaps, max.smallest)
  let bestHalf = -1
  let bestHalfRank = -1
  let lastPositive = -1
  let lastMessage = -1
  let firstTable = -1
  let last = start
  for (let i = start; i < units.length; i++) {
    builder.add(i)
    if (builder.tables > max.tables && i > start) return tableCut(gaps, firstTable, i)
    if (i > start && (builder.length > limit || builder.blocks > max.blocks)) break
    if (units[i]?.table && firstTable === -1) firstTable = i
    last = i
    if (i === units.length - 1) return i
    const rank = (gaps[i] as Gap).rank
    if (rank >= Rank.message) lastMessage = i
    if (rank > Rank.never) {
      lastPositive = i
      if (builder.length >= limit / 2 && rank >= bestHalfRank) {
        bestHalf = i
        bestHalfRank = rank
      }
    }
  }
  // In a combined post, a message is never cut when the post can end between messages.
  if (lastMessage !== -1) return lastMessage
  if (bestHalf !== -1) return bestHalf
  if (lastPositive !== -1) return lastPositive
  return last
}

/**
 * Where to end a post that reached a table too many: at the best gap after the table it holds,
 * the first of the best, so what introduces the next table stays with it.
 */
function tableCut(gaps: Gap[], table: number, next: number): number {
  let best = table
  for (let g = table + 1; g < next; g++) if ((gaps[g] as Gap).rank > (gaps[best] as Gap).rank) best = g
  return best
}

/** Builds one post unit by unit, keeping count of its length as the platform will see it. */
class PostBuilder {
  private readonly segments: Segment[] = []
  private text = ''
  private plain = ''
  private done = 0
  private last: Unit | undefined
  private reopened: Fence | undefined
  blocks = 0
  tables = 0

  constructor(
    private readonly units: Unit[],
    private readonly gaps: Gap[],
    /** The smallest post: a header longer than a third of it is not repeated. */
    private readonly limit: number
  ) {}

  /** Characters of text the post holds, with the fence that would close it here. */
  get length(): number {
    return this.done + this.text.length + (this.last?.fence ? 1 + this.close(this.last.fence).length : 0)
  }

  add(i: number): void {
    const unit = this.units[i] as Unit
    if (unit.block !== undefined) {
      this.flush()
      this.segments.push({ block: unit.block, plain: unit.plain })
      this.blocks++
      if (unit.table) this.tables++
      return
    }
    const last = this.last
    if (!last) {
      this.blocks++
      this.reopened = unit.fence
      this.text = unit.fence ? `${unit.fence.reopen}\n${this.repeated(unit)}${this.line(unit)}` : unit.text.trimStart()
      this.plain = unit.plain.trimStart()
    } else {
      const gap = this.gaps[i - 1] as Gap
      if (last.fence && last.fence !== unit.fence) this.text += `\n${this.close(last.fence)}`
      this.text += gap.join
      if (unit.fence && unit.fence !== last.fence) this.text += `${unit.fence.open}\n`
      this.text += this.line(unit)
      this.plain += gap.plain + unit.plain
    }
    this.last = unit
  }

  /** The header lines a block reopened at this unit writes again before it. */
  private repeated(unit: Unit): string {
    return unit.fence && !unit.head ? repeatOf(unit.fence, this.limit) : ''
  }

  /** A code line of a block reopened at the start of the post loses the container prefix it had. */
  private line(unit: Unit): string {
    const fence = unit.fence
    if (fence && fence === this.reopened && unit.text.startsWith(fence.indent))
      return unit.text.slice(fence.indent.length)
    return unit.text
  }

  private close(fence: Fence): string {
    return fence === this.reopened && fence.close.startsWith(fence.indent)
      ? fence.close.slice(fence.indent.length)
      : fence.close
  }

  private flush(): void {
    if (!this.last) return
    // A code block cut after a blank line closes right after its last line of code.
    if (this.last.fence) this.text = `${withoutBlankEnd(this.text)}\n${this.close(this.last.fence)}`
    const text = this.text.trimEnd()
    if (text) this.segments.push({ text, plain: this.plain.trim() })
    this.done += text.length
    this.text = ''
    this.plain = ''
    this.last = undefined
    this.reopened = undefined
  }

  finish(): Post {
    this.flush()
    const texts = this.segments.filter((s): s is { text: string; plain: string } => 'text' in s)
    return {
      segments: this.segments,
      text: texts.map(s => s.text).join('\n\n'),
      plain: this.segments
        .map(s => s.plain)
        .filter(Boolean)
        .join('\n\n')
    }
  }
}

/** A text without the blank lines at its end (a regular expression anchored at the end scans it all). */
function withoutBlankEnd(text: string): string {
  let end = text.length
  let cut = end
  while (end > 0) {
    const c = text.charCodeAt(end - 1)
    if (c === 0x20 || c === 0x09) end--
    else if (c === 0x0a) cut = --end
    else break
  }
  return cut === text.length ? text : text.slice(0, cut)
}

/** Cuts every unit too long for a post into pieces that fit, between graphemes. */
function fitUnits(flow: Flow, limit: number): Flow {
  const room = (unit: Unit) => Math.max(8, limit - (unit.fence ? fenceLength(unit.fence, limit) : 0))
  if (flow.units.every(unit => unit.text.length <= room(unit))) return flow
  const units: Unit[] = []
  const gaps: Gap[] = []
  flow.units.forEach((unit, i) => {
    if (i > 0) gaps.push(flow.gaps[i - 1] as Gap)
    if (unit.text.length <= room(unit)) {
      units.push(unit)
      return
    }
    const pieces = cutText(unit.text, room(unit))
    pieces.forEach((text, k) => {
      if (k > 0) gaps.push({ join: '', plain: '', rank: Rank.never })
      units.push({ ...unit, text, plain: k === 0 ? unit.plain : '' })
    })
  })
  return { units, gaps }
}

/** Characters a code block adds to a post around its lines: fences, and the repeated header. */
function fenceLength(fence: Fence, limit: number): number {
  return fence.open.length + fence.close.length + 2 + repeatOf(fence, limit).length
}

/** The lines a block reopened in a new post repeats, unless they would crowd out its content. */
function repeatOf(fence: Fence, limit: number): string {
  if (!fence.repeat) return ''
  const text = `${fence.repeat.join('\n')}\n`
  return text.length <= limit / 3 ? text : ''
}

function cutText(text: string, max: number): string[] {
  const pieces: string[] = []
  let from = 0
  while (text.length - from > max) {
    let cut = graphemeCut(text, from + max)
    if (cut <= from) cut = from + max
    pieces.push(text.slice(from, cut))
    from = cut
  }
  pieces.push(text.slice(from))
  return pieces
}
