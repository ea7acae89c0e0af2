import t from 'tap'
import { splitMarkdown } from '../../plugins/slack/split.js'

// A seeded generator, so that a failing document can be reproduced from its seed.
function random(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let x = state
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

const alphabet = 'abcdefghijklmnopqrstuvwxyzé😀*_<>&'

function markdownDocument(seed: number, limit: number): string {
  const next = random(seed)
  const pick = <T>(items: T[]): T => items[Math.floor(next() * items.length)] as T
  const word = (): string => {
    // Now and then a "word" longer than a whole part, which alone may be cut.
    if (next() < 0.01) return 'W'.repeat(limit + Math.floor(next() * limit))
    let w = ''
    const length = 1 + Math.floor(next() * 12)
    for (let i = 0; i < length; i++) w += pick([...alphabet])
    return w
  }
  const line = (words: number): string => Array.from({ length: words }, word).join(' ')
  const blocks: string[] = []
  const count = 5 + Math.floor(next() * 40)
  for (let b = 0; b < count; b++) {
    const kind = next()
    if (kind < 0.35) blocks.push(line(5 + Math.floor(next() * 120)))
    else if (kind < 0.5)
      blocks.push(
        Array.from({ length: 2 + Math.floor(next() * 8) }, () => `- ${line(3 + Math.floor(next() * 15))}`).join('\n')
      )
    else if (kind < 0.55) blocks.push(`## ${line(4)}`)
    else if (kind < 0.85) {
      const marker = pick(['```', '~~~', '````'])
      const language = pick(['', 'python', 'ts', 'bash', 'json title="x.json"'])
      const indent = pick(['', '', '   '])
      const body = Array.from({ length: 1 + Math.floor(next() * 60) }, () =>
        next() < 0.1 ? '' : indent + ' '.repeat(Math.floor(next() * 8)) + line(1 + Math.floor(next() * 10))
      )
      blocks.push([indent + marker + language, ...body, indent + marker].join('\n'))
    } else blocks.push(line(1 + Math.floor(next() * 3)) + '\n' + line(2 + Math.floor(next() * 30)))
  }
  return blocks.join(pick(['\n\n', '\n\n\n']))
}

const fenceLine = /^\s*(`{3,}|~{3,})(.*)$/

/** The fence lines of a text and whether they all pair up, by a scan written apart from the splitter's. */
function fencesBalanced(text: string): boolean {
  let open: string | undefined
  for (const line of text.split('\n')) {
    const match = fenceLine.exec(line)
    if (!match) continue
    const marker = match[1] as string
    if (open === undefined) open = marker
    else if (marker[0] === open[0] && marker.length >= open.length && (match[2] ?? '').trim() === '') open = undefined
  }
  return open === undefined
}

function withoutFenceLines(text: string): string {
  return text
    .split('\n')
    .filter(line => !fenceLine.test(line))
    .join('\n')
}

function words(text: string): string[] {
  return text.split(/\s+/).filter(Boolean)
}

function codeLines(text: string): string[] {
  const lines: string[] = []
  let open = false
  for (const line of text.split('\n')) {
    if (fenceLine.test(line)) open = !open
    else if (open) lines.push(line)
  }
  return lines
}

/** The words of the parts are the words of the original, a word longer than a part maybe cut into pieces. */
function sameWords(original: string[], split: string[], limit: number): string | undefined {
  let j = 0
  for (const [i, word] of original.entries()) {
    if (split[j] === word) {
      j++
      continue
    }
    if (word.length <= limit - 10) return `word ${i} "${word.slice(0, 40)}" became "${String(split[j]).slice(0, 40)}"`
    let joined = ''
    while (j < split.length && joined.length < word.length && word.startsWith(joined + split[j])) joined += split[j++]
    if (joined !== word) return `long word ${i} was not cut cleanly`
  }
  return j === split.length ? undefined : `extra words after the end: ${split.slice(j, j + 3).join(' ')}`
}

t.test('random Markdown documents: nothing lost, no part too long, fences balanced', async t => {
  for (let seed = 1; seed <= 300; seed++) {
    const limit = 200 + Math.floor(random(seed * 7)() * 2000)
    const markdown = markdownDocument(seed, limit)
    const parts = splitMarkdown(markdown, limit)
    const label = `seed ${seed}, limit ${limit}`
    const tooLong = parts.findIndex(part => part.length > limit)
    if (tooLong !== -1) t.fail(`${label}: part ${tooLong} has ${parts[tooLong]?.length} characters`)
    const unbalanced = parts.findIndex(part => !fencesBalanced(part))
    if (unbalanced !== -1) t.fail(`${label}: part ${unbalanced} leaves a fence open`)
    if (parts.some(part => part.trim() === '')) t.fail(`${label}: an empty part`)
    const lost = sameWords(words(withoutFenceLines(markdown)), words(withoutFenceLines(parts.join('\n'))), limit)
    if (lost) t.fail(`${label}: ${lost}`)
    // Every code line that fits a part arrives whole, indentation included, and in order.
    const arrived = parts.flatMap(codeLines)
    let k = 0
    for (const line of codeLines(markdown).filter(l => l.length < limit - 40)) {
      while (k < arrived.length && arrived[k] !== line) k++
      if (k === arrived.length) {
        t.fail(`${label}: code line "${line.slice(0, 40)}" lost or out of order`)
        break
      }
      k++
    }
  }
  t.pass('300 documents checked')
})

t.test('text within the limit stays one part, and blank text none', async t => {
  t.same(splitMarkdown('Hello **world**', 100), ['Hello **world**'])
  t.same(splitMarkdown('', 100), [])
  t.same(splitMarkdown('\n\n  \n', 100), [])
})

t.test('cuts between paragraphs before cutting between lines', async t => {
  const first = 'a'.repeat(40) + '\n' + 'b'.repeat(40)
  const second = 'c'.repeat(40)
  t.same(splitMarkdown(`${first}\n\n${second}`, 90), [first, second])
})

t.test('cuts between words, never inside one that fits', async t => {
  const text = Array.from({ length: 50 }, (_, i) => `word${i}`).join(' ')
  const parts = splitMarkdown(text, 60)
  t.ok(parts.length > 1)
  t.same(parts.join(' ').split(' '), text.split(' '))
  t.ok(parts.every(p => p.length <= 60 && !p.startsWith(' ') && !p.endsWith(' ')))
})

t.test('a word longer than a part is cut, but never through a surrogate pair', async t => {
  const word = '😀'.repeat(60)
  const parts = splitMarkdown(word, 51)
  t.equal(parts.join(''), word)
  for (const part of parts) t.notMatch(part, /^[\udc00-\udfff]|[\ud800-\udbff]$/, 'no lone surrogate at a cut')
})

t.test('a long code block is closed and reopened with its language', async t => {
  const code = Array.from({ length: 30 }, (_, i) => `    line_${i} = ${i}`).join('\n')
  const markdown = `Intro\n\n\`\`\`python\n${code}\n\`\`\`\n\nOutro`
  const parts = splitMarkdown(markdown, 200)
  const inner = parts.filter(p => p.startsWith('```python\n'))
  t.ok(inner.length >= 3, 'the code block spans several parts, each opening it with its language')
  t.ok(parts.every(fencesBalanced), 'each closes it')
  t.same(parts.flatMap(codeLines), code.split('\n'), 'code lines arrive whole and in order')
  t.equal(parts[0], 'Intro', 'the cut before the code block wins over cuts inside it')
  t.ok(parts.at(-1)?.endsWith('```\n\nOutro'))
})

t.test('a tilde fence inside a list item reopens with the same marker', async t => {
  const code = Array.from({ length: 20 }, (_, i) => `   echo ${i}`).join('\n')
  const parts = splitMarkdown(`1. Run:\n   ~~~~bash\n${code}\n   ~~~~`, 120)
  t.ok(
    parts.slice(1).every(p => p.startsWith('   ~~~~bash\n')),
    'reopened as ~~~~bash'
  )
  t.ok(parts.every(fencesBalanced))
})
