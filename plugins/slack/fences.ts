/** A fenced code block's opening line: what it takes to close it and open it again elsewhere. */
export interface Fence {
  indent: string
  /** The run of backticks or tildes, such as ``` or ~~~~. */
  marker: string
  /** Everything after the marker, such as `ts title="a.ts"`. */
  info: string
}

/** One line of a Markdown text and where it stands with respect to fenced code. */
export interface MarkdownLine {
  /** Offset of the line's first character. */
  start: number
  /** Offset of the line break that ends it (or of the end of the text). */
  end: number
  blank: boolean
  /** The fence this line is inside of: code, or the line that closes it. */
  inside?: Fence
  /** Set on the line that opens a fence. */
  opens?: Fence
  /** True on the line that closes the fence it is inside of. */
  closes: boolean
}

// LLM answers often indent fences inside list items by more than CommonMark's three spaces,
// so any indentation is accepted; an indented code block that quotes a fence is rare enough.
const fenceLine = /^([ \t]*)(`{3,}|~{3,})(.*)$/

/** Splits a Markdown text into lines, marking fenced code blocks as CommonMark does. */
export function scanLines(text: string): MarkdownLine[] {
  const lines: MarkdownLine[] = []
  let open: Fence | undefined
  let start = 0
  for (;;) {
    const newline = text.indexOf('\n', start)
    const end = newline === -1 ? text.length : newline
    const content = text.slice(start, end)
    const line: MarkdownLine = { start, end, blank: content.trim() === '', closes: false }
    const match = fenceLine.exec(content)
    if (open) {
      line.inside = open
      if (match && closesFence(open, match[2] ?? '', match[3] ?? '')) {
        line.closes = true
        open = undefined
      }
    } else if (match) {
      const marker = match[2] ?? ''
      const info = match[3] ?? ''
      // A backtick fence's info string may not contain a backtick (that is inline code instead).
      if (!(marker.startsWith('`') && info.includes('`'))) {
        open = { indent: match[1] ?? '', marker, info }
        line.opens = open
      }
    }
    lines.push(line)
    if (newline === -1) return lines
    start = newline + 1
  }
}

function closesFence(open: Fence, marker: string, rest: string): boolean {
  return marker[0] === open.marker[0] && marker.length >= open.marker.length && rest.trim() === ''
}

/** The fence still open after this line, if any. */
export function openAfter(line: MarkdownLine): Fence | undefined {
  if (line.opens) return line.opens
  return line.closes ? undefined : line.inside
}

// A reopened fence stands at the start of a new message, outside any list item, where four
// spaces would turn it into an indented code block.
function fenceIndent(fence: Fence): string {
  return fence.indent.length <= 3 ? fence.indent : ''
}

/** The line that opens the fence again in a later part: same marker, same language. */
export function reopenLine(fence: Fence): string {
  const language = fence.info.trim().split(/\s+/)[0] ?? ''
  return fenceIndent(fence) + fence.marker + language.slice(0, 30)
}

/** The line that closes the fence at the end of a part. */
export function closeLine(fence: Fence): string {
  return fenceIndent(fence) + fence.marker
}
