import { closeLine, openAfter, reopenLine, scanLines, type Fence, type MarkdownLine } from './fences.js'

/** Where a part ends, what closes it, and where the next part starts. */
interface Cut {
  end: number
  close: string
  resume: number
}

/**
 * Splits Markdown into parts of at most `limit` characters (UTF-16 units, which never undercount
 * Slack's characters). It cuts between paragraphs where it can, else between lines, else between
 * words, and inside a word only when one word is longer than a part. A part that ends inside a
 * fenced code block closes it and the next part opens it again with its language, so that every
 * part renders on its own. Nothing but the whitespace at a cut is dropped.
 */
export function splitMarkdown(markdown: string, limit: number): string[] {
  const lines = scanLines(markdown)
  const parts: string[] = []
  let pos = skipBlank(markdown, lines, 0)
  while (pos < markdown.length) {
    const line = lineAt(lines, pos)
    const fence = pos === line.start ? line.inside : midLineFence(line)
    const reopen = fence ? reopenLine(fence) + '\n' : ''
    if (reopen.length + markdown.length - pos <= limit) {
      parts.push(reopen + markdown.slice(pos))
      break
    }
    const budget = limit - reopen.length
    const cut = lineCut(lines, pos, budget) ?? wordCut(markdown, lines, pos, budget)
    parts.push(reopen + markdown.slice(pos, cut.end) + cut.close)
    pos = skipBlank(markdown, lines, cut.resume)
  }
  return parts
}

// Ranks of the places a part can end, strongest first.
const afterParagraph = 4
const afterLine = 3
const insideCode = 2

/** The best line break to end a part at: the strongest kind, and of those the furthest. */
function lineCut(lines: MarkdownLine[], pos: number, budget: number): Cut | undefined {
  let best: Cut | undefined
  let bestRank = 0
  for (let i = lineIndex(lines, pos); i < lines.length - 1; i++) {
    const line = lines[i] as MarkdownLine
    const next = lines[i + 1] as MarkdownLine
    if (line.end - pos > budget) break
    // A blank line ends the same paragraph as the line before it, which is the better cut.
    if (line.end <= pos || (line.blank && !line.inside)) continue
    const open = openAfter(line)
    let rank: number
    if (!open) rank = next.blank || line.closes || next.opens ? afterParagraph : afterLine
    // Cutting right after an opening fence or right before a closing one leaves an empty block.
    else if (line.opens || next.closes) continue
    else rank = insideCode
    const close = open ? '\n' + closeLine(open) : ''
    if (line.end - pos + close.length > budget) continue
    if (rank >= bestRank) {
      best = { end: line.end, close, resume: next.start }
      bestRank = rank
    }
  }
  return best
}

/** Ends a part inside the line that overflows: at its last space that fits, or hard. */
function wordCut(markdown: string, lines: MarkdownLine[], pos: number, budget: number): Cut {
  // The line that holds the part's last character decides the closing fence, whose length may
  // in turn move that character back into the line before. Fence lines themselves are never cut.
  let line = lineAt(lines, pos + budget - 1)
  let fence: Fence | undefined
  let close: string
  for (;;) {
    fence = midLineFence(line)
    close = fence ? '\n' + closeLine(fence) : ''
    const earlier = line.start > pos && (pos + budget - close.length <= line.start || line.opens || line.closes)
    if (!earlier) break
    line = lineAt(lines, line.start - 1)
  }
  const maxEnd = Math.max(Math.min(pos + budget - close.length, line.end), pos + 1)
  const from = Math.max(pos, line.start)
  // In code the space is content: it stays at the end of the part instead of being dropped.
  const space = lastSpace(markdown, from, fence ? maxEnd - 1 : maxEnd)
  if (space > pos) {
    // A space that ends a code line leaves nothing of it: the next part starts on the next line.
    if (fence) return { end: space + 1, close, resume: space + 1 === line.end ? line.end + 1 : space + 1 }
    let resume = space + 1
    while (markdown[resume] === ' ' || markdown[resume] === '\t') resume++
    return { end: space, close, resume }
  }
  let end = maxEnd
  // Never separate a surrogate pair, nor a backslash from the character it escapes.
  if (end - 1 > pos && isHighSurrogate(markdown.charCodeAt(end - 1))) end--
  if (end - 1 > pos && markdown[end - 1] === '\\') end--
  return { end, close, resume: end }
}

function lastSpace(markdown: string, from: number, before: number): number {
  for (let i = Math.min(before, markdown.length) - 1; i > from; i--) {
    if (markdown[i] === ' ' || markdown[i] === '\t') return i
  }
  return -1
}

/** The fence open in the middle of this line (a fence line itself counts as outside). */
function midLineFence(line: MarkdownLine): Fence | undefined {
  return line.opens || line.closes ? undefined : line.inside
}

/** Moves past blank lines and stray line breaks outside code, where a part must not start. */
function skipBlank(markdown: string, lines: MarkdownLine[], pos: number): number {
  while (pos < markdown.length) {
    const line = lineAt(lines, pos)
    if (line.inside && !line.closes) return pos
    if (pos === line.end) pos++
    else if (pos === line.start && line.blank) pos = line.end + 1
    else return pos
  }
  return pos
}

function lineAt(lines: MarkdownLine[], pos: number): MarkdownLine {
  return lines[lineIndex(lines, pos)] as MarkdownLine
}

/** The index of the line that holds this offset (a line holds its own line break). */
function lineIndex(lines: MarkdownLine[], pos: number): number {
  let low = 0
  let high = lines.length - 1
  while (low < high) {
    const middle = (low + high + 1) >> 1
    if ((lines[middle] as MarkdownLine).start <= pos) low = middle
    else high = middle - 1
  }
  return low
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff
}
