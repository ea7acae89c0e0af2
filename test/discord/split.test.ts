import t from 'tap'
import { renderPiece, splitPieces, splitText } from '../../plugins/discord/split.js'

/** An independent CommonMark fence reader: the fence (marker and info) open after each line, or undefined. */
function fenceStates(text: string): {
  atEnd: { marker: string; info: string } | undefined
  lineStarts: Map<number, { marker: string; info: string } | undefined>
} {
  let open: { marker: string; info: string } | undefined
  const lineStarts = new Map<number, { marker: string; info: string } | undefined>()
  let offset = 0
  for (const line of text.split('\n')) {
    lineStarts.set(offset, open)
    const m = /^ {0,3}(`{3,}|~{3,})(.*)$/.exec(line)
    if (open) {
      if (m && m[1]![0] === open.marker[0] && m[1]!.length >= open.marker.length && m[2]!.trim() === '')
        open = undefined
    } else if (m && !(m[1]![0] === '`' && m[2]!.includes('`'))) {
      open = { marker: m[1]!, info: m[2]!.trim() }
    }
    offset += line.length + 1
  }
  return { atEnd: open, lineStarts }
}

/** Mulberry32: a seeded generator, so a failing document can be reproduced. */
function seeded(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

function randomDocument(random: () => number): string {
  const pick = <T>(items: T[]) => items[Math.floor(random() * items.length)]!
  const words = [
    'alpha',
    'beta',
    'gamma',
    'delta',
    '**bold**',
    '`code`',
    '😀',
    '👩‍💻',
    'naïve',
    '@everyone',
    '<@123456789012345678>',
    'x'.repeat(1 + Math.floor(random() * 40))
  ]
  const line = (n: number) => Array.from({ length: n }, () => pick(words)).join(pick([' ', ' ', ' ', '\t']))
  const blocks: string[] = []
  const count = 1 + Math.floor(random() * 25)
  for (let b = 0; b < count; b++) {
    const kind = random()
    if (kind < 0.4) {
      blocks.push(
        Array.from({ length: 1 + Math.floor(random() * 8) }, () => line(1 + Math.floor(random() * 60))).join('\n')
      )
    } else if (kind < 0.75) {
      const marker = pick(['```', '```', '~~~', '````'])
      const lang = pick(['', 'ts', 'python', 'js title="a b"', 'c++'])
      const body = Array.from(
        { length: 1 + Math.floor(random() * 120) },
        () => '  '.repeat(Math.floor(random() * 3)) + line(Math.floor(random() * 12))
      )
      // Sometimes a fence-like line that does not close this block, sometimes no closing fence at all.
      if (marker === '````' && random() < 0.5) body.splice(1, 0, '```')
      const closed = random() < 0.9 || b < count - 1
      blocks.push(`${marker}${lang}\n${body.join('\n')}${closed ? `\n${marker}` : ''}`)
    } else if (kind < 0.85) {
      blocks.push('y'.repeat(500 + Math.floor(random() * 5000)))
    } else if (kind < 0.92) {
      blocks.push('😀'.repeat(100 + Math.floor(random() * 1500)))
    } else {
      blocks.push(' '.repeat(Math.floor(random() * 3000)) + '\n'.repeat(Math.floor(random() * 4)))
    }
  }
  return blocks.join(pick(['\n\n', '\n', '\n\n\n']))
}

/** What is wrong with splitting `text` at `limit`: nothing, when the splitter keeps its promises. */
function splitProblems(text: string, limit: number): string[] {
  const pieces = splitPieces(text, limit)
  const problems: string[] = []
  if (pieces.map(p => p.body).join('') !== text) problems.push('the bodies do not join back into the text')
  const original = fenceStates(text)
  let offset = 0
  pieces.forEach((piece, i) => {
    const part = renderPiece(piece)
    if (part.length > limit) problems.push(`part ${i} is ${part.length} long`)
    if (fenceStates(part).atEnd) problems.push(`part ${i} leaves a fence open`)
    if (/[\ud800-\udbff]$/.test(piece.body) || /^[\udc00-\udfff]/.test(piece.body))
      problems.push(`part ${i} cuts a surrogate pair`)
    const fenceHere = original.lineStarts.get(offset)
    if (fenceHere && piece.reopen && !piece.reopen.startsWith(fenceHere.marker + fenceHere.info.split(/\s+/)[0])) {
      problems.push(`part ${i} reopens with ${JSON.stringify(piece.reopen)} but ${JSON.stringify(fenceHere)} was open`)
    }
    offset += piece.body.length
  })
  return problems
}

t.test('a short text is one part, unchanged', async t => {
  t.same(splitText('hello **world**', 2000), ['hello **world**'])
  t.same(splitText('', 2000), [])
  t.same(splitText('   \n  ', 2000), [])
})

t.test('prefers paragraph, then line, then word boundaries', async t => {
  const para = 'a'.repeat(60) + '\n\n' + 'b'.repeat(60)
  t.same(splitText(para, 100), ['a'.repeat(60) + '\n\n', 'b'.repeat(60)])
  const lines = 'a'.repeat(60) + '\n' + 'b'.repeat(60)
  t.same(splitText(lines, 100), ['a'.repeat(60) + '\n', 'b'.repeat(60)])
  const words = 'word '.repeat(30)
  const parts = splitText(words, 64)
  t.ok(
    parts.every(p => p.length <= 64 && /^(word ?)+$/.test(p)),
    'cut between words'
  )
  t.equal(parts.join(''), words)
})

t.test('a code block cut in two is closed and reopened with its language', async t => {
  const code = Array.from({ length: 40 }, (_, i) => `console.log(${i})`).join('\n')
  const text = `Here:\n\n\`\`\`ts\n${code}\n\`\`\`\n\nDone.`
  const parts = splitText(text, 300)
  t.ok(parts.length > 2)
  for (const part of parts) {
    t.ok(part.length <= 300)
    t.equal(fenceStates(part).atEnd, undefined, 'balanced: ' + JSON.stringify(part.slice(0, 30)))
  }
  t.ok(
    parts.slice(1, -1).every(p => p.startsWith('```ts\n')),
    'middle parts reopen the ts block'
  )
  t.ok(parts[0]!.includes('```ts\n'), 'the first part opens it as written')
  t.same(splitProblems(text, 300), [], 'invariants')
})

t.test('tilde and longer fences are reopened with their own marker', async t => {
  const text = '~~~~python\n' + 'print(1)\n'.repeat(100) + '```\nnot a close\n' + '~~~~\nafter'
  const pieces = splitPieces(text, 200)
  t.ok(pieces.slice(1).some(p => p.reopen === '~~~~python\n'))
  t.ok(pieces.every(p => !p.reopen || p.reopen === '~~~~python\n'))
  t.same(splitProblems(text, 200), [], 'invariants')
})

t.test('a hard cut never splits an emoji', async t => {
  const text = '😀'.repeat(3000)
  const parts = splitText(text, 2000)
  t.ok(parts.every(p => p.length <= 2000 && !/^[\udc00-\udfff]/.test(p)))
  t.equal(parts.join(''), text)
})

t.test('random documents: nothing lost, no part too long, fences balanced, language kept', async t => {
  const random = seeded(20240601)
  let failures = 0
  for (let i = 0; i < 300 && failures < 3; i++) {
    const text = randomDocument(random)
    const limit = [2000, 4096, 500, 97][i % 4]!
    if (!t.same(splitProblems(text, limit), [], `document ${i} (${text.length} chars, limit ${limit})`)) failures++
  }
})
