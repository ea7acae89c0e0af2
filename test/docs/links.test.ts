import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { lexer, type Token, type Tokens } from 'marked'
import t from 'tap'

const root = process.cwd()
/** Folders that hold no user documentation: installed packages, builds, and the relay's Markdown test inputs. */
const skipped = new Set(['node_modules', 'dist', '.tap', 'coverage', '.git', 'test/fixtures'])

function markdownFiles(dir: string): string[] {
  const found: string[] = []
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    if (skipped.has(relative(root, path)) || skipped.has(name)) continue
    if (statSync(path).isDirectory()) found.push(...markdownFiles(path))
    else if (name.endsWith('.md')) found.push(relative(root, path))
  }
  return found
}

/** A heading's text as GitHub renders it: the words of code, links and emphasis, without their markup. */
function plainText(tokens: Token[] | undefined): string {
  return (tokens ?? [])
    .map(token => {
      if ('tokens' in token && token.tokens?.length) return plainText(token.tokens)
      if (token.type === 'html') return ''
      return 'text' in token ? String(token.text) : ''
    })
    .join('')
}

/**
 * GitHub's heading anchors: lower-case, every character that is not a letter, digit, space, - or _
 * dropped, spaces made hyphens; a repeated slug gets -1, -2 and so on.
 */
export function githubSlugs(markdown: string): Set<string> {
  const slugs = new Set<string>()
  const seen = new Map<string, number>()
  const walk = (tokens: Token[]) => {
    for (const token of tokens) {
      if (token.type === 'heading') {
        const base = plainText((token as Tokens.Heading).tokens)
          .toLowerCase()
          .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
          .replace(/ /g, '-')
        const count = seen.get(base) ?? 0
        seen.set(base, count + 1)
        slugs.add(count === 0 ? base : `${base}-${count}`)
      }
      if ('tokens' in token && token.tokens) walk(token.tokens)
      if (token.type === 'list') for (const item of (token as Tokens.List).items) walk(item.tokens)
    }
  }
  walk(lexer(markdown))
  // Anchors a page sets itself with <a id="..."> or <a name="...">.
  for (const m of markdown.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) slugs.add(m[1]!)
  return slugs
}

/** Every link and image target in a Markdown text, code blocks and code spans left out. */
function linkTargets(markdown: string): string[] {
  const targets: string[] = []
  const walk = (tokens: Token[]) => {
    for (const token of tokens) {
      if (token.type === 'link' || token.type === 'image') targets.push((token as Tokens.Link).href)
      if ('tokens' in token && token.tokens) walk(token.tokens)
      if (token.type === 'list') for (const item of (token as Tokens.List).items) walk(item.tokens)
      if (token.type === 'table') {
        const table = token as Tokens.Table
        for (const cell of [...table.header, ...table.rows.flat()]) walk(cell.tokens)
      }
    }
  }
  walk(lexer(markdown))
  return targets
}

t.test("GitHub's slug rules, as this test applies them", async t => {
  const slugs = githubSlugs(
    '# Replicas and store outages (2026-12-07)\n## `server.publicUrl` and _the_ [tunnel](x.md)\n## Docker\n## Docker\n```\n# not a heading\n```\n'
  )
  t.same([...slugs], ['replicas-and-store-outages-2026-12-07', 'serverpublicurl-and-the-tunnel', 'docker', 'docker-1'])
})

const files = markdownFiles(root)

t.test('every relative link in every Markdown file leads to a file, and its #anchor to a heading there', async t => {
  t.ok(files.includes('README.md') && files.includes('docs/slack.md') && files.includes('plugins/slack/README.md'))
  const slugsOf = new Map<string, Set<string>>()
  const slugs = (file: string) => {
    if (!slugsOf.has(file)) slugsOf.set(file, githubSlugs(readFileSync(file, 'utf8')))
    return slugsOf.get(file)!
  }
  for (const file of files) {
    const broken: string[] = []
    for (const target of linkTargets(readFileSync(file, 'utf8'))) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue
      const [pathPart, anchor] = target.split('#') as [string, string | undefined]
      const path = pathPart === '' ? file : join(dirname(file), decodeURIComponent(pathPart))
      if (!existsSync(path)) broken.push(`${target}: no file ${path}`)
      else if (anchor && path.endsWith('.md') && !slugs(path).has(decodeURIComponent(anchor)))
        broken.push(`${target}: no heading #${anchor} in ${path}`)
    }
    t.same(broken, [], `${file}: every relative link resolves`)
  }
})
