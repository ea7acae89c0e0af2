import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'

/**
 * User docs speak of the product, not of the work that built it: no "(#15)", "issue #17" or
 * "issue 17" in their prose. Code (fenced blocks and `spans`) is left out, since `&#27;` or a
 * colour such as `#000` is code; so are character references (`&#27;`), link targets (`](#x)`)
 * and anything glued to a word, quote or slash.
 */

const userDocs = [
  'README.md',
  'bench/README.md',
  ...walk('docs', name => name.endsWith('.md')),
  ...readdirSync('plugins')
    .map(name => join('plugins', name, 'README.md'))
    .filter(isFile),
  'plugins/README.md',
  ...walk('examples', isText),
  ...walk('container', isText)
]

function walk(dir: string, keep: (name: string) => boolean): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map(name => join(dir, name))
    .filter(path => isFile(path) && keep(path))
    .sort()
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile()
  } catch {
    return false
  }
}

function isText(path: string): boolean {
  return /\.(md|json|jsonc|ya?ml|mjs|js|ts|sh|txt|conf|service|env)$/.test(path) || !path.includes('.')
}

/** The text a reader sees as prose: fenced code blocks and inline code spans blanked out. */
function prose(markdown: string): string {
  return markdown
    .replace(/^( {0,3})(`{3,}|~{3,})[^\n]*\n[\s\S]*?^\1?\2[^\n]*$/gm, block => block.replace(/[^\n]/g, ' '))
    .replace(/(`+)[^`\n]+?\1/g, span => ' '.repeat(span.length))
}

/** "issue 17", "issue #17"; "(#15)", "see #17", "#16 item 6". */
const reference = /\bissues?\s+#?\d+\b|(?<![\w&/"'`\]#]|\]\()#\d+\b/gi

/** Every issue reference in a doc, as "line: text". */
function issueReferences(text: string, markdown: boolean): string[] {
  const lines = (markdown ? prose(text) : text).split('\n')
  const found: string[] = []
  lines.forEach((line, index) => {
    for (const match of line.matchAll(reference)) found.push(`${index + 1}: ${match[0]}`)
  })
  return found
}

t.test('the finder catches issue references and leaves code, colours and anchors alone', async t => {
  t.same(issueReferences('opt in to combined delivery (#15) and the desk (#17).', true), ['1: #15', '1: #17'])
  t.same(issueReferences('When GPTBots hands over ([issue #17](handoff.md)), the', true), ['1: issue #17'])
  t.same(issueReferences('## Busy channel (#15)\nmeasured for issue 16 item 6', true), ['1: #15', '2: issue 16'])
  t.same(issueReferences('#12 was the first', true), ['1: #12'])
  t.same(issueReferences('parsed so `&#27;` is caught like &#27; a raw ESC', true), [])
  t.same(issueReferences('a `#000000` border, colour "#333" and #5865F2', true), [])
  t.same(issueReferences('see [busy](#busy-channel) and [x](README.md#section-2)', true), [])
  t.same(issueReferences('```css\n.a { color: #000 } /* #15 */\n```\ntext', true), [])
  t.same(issueReferences('{ "color": "#000000", "note": "fixed in #15" }', false), ['1: #15'])
})

for (const path of userDocs) {
  t.test(path, async t => {
    const found = issueReferences(readFileSync(path, 'utf8'), path.endsWith('.md'))
    t.same(found, [], `${path} cites internal issue numbers; say what the product does instead`)
  })
}
