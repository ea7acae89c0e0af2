import t from 'tap'
import { DiscordWriter } from '../../plugins/discord/markdown.js'
import { SlackWriter } from '../../plugins/slack/markdown.js'
import { joinFlows, type Flow } from '../../src/markdown/flow.js'
import { parseMarkdown } from '../../src/markdown/parse.js'
import { splitFlow } from '../../src/markdown/split.js'

// The splitter's promises, checked on random documents written for Slack and for Discord: no post
// over its limit, every code block closed in the post that opens it and reopened with its
// language, and the words of the posts, in order, those of the unsplit rendering.

/** Mulberry32: a seeded generator, so a failing document can be reproduced from its seed. */
function seeded(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

function randomDocument(random: () => number, limit: number): string {
  const pick = <T>(items: T[]) => items[Math.floor(random() * items.length)] as T
  const words = [
    'alpha',
    'beta',
    '**bold**',
    '`code`',
    '😀',
    '👩‍💻',
    'naïve',
    '以下是**重要**信息',
    '[link](https://x.io/a_(b))',
    'a<b',
    '&amp;',
    'x'.repeat(1 + Math.floor(random() * 40))
  ]
  const word = () => (random() < 0.005 ? 'W'.repeat(limit + Math.floor(random() * limit)) : pick(words))
  const line = (n: number) => Array.from({ length: n }, word).join(' ')
  const blocks: string[] = []
  const count = 1 + Math.floor(random() * 12)
  for (let b = 0; b < count; b++) {
    const kind = random()
    if (kind < 0.3) blocks.push(line(1 + Math.floor(random() * 120)))
    else if (kind < 0.45)
      blocks.push(
        Array.from(
          { length: 2 + Math.floor(random() * 12) },
          (_, i) =>
            `${pick(['- ', '1. ', '- [ ] '])}${line(2 + Math.floor(random() * 20))}${i % 3 === 2 ? `\n  - nested ${line(3)}` : ''}`
        ).join('\n')
      )
    else if (kind < 0.5) blocks.push(`## ${line(4)}`)
    else if (kind < 0.55) blocks.push(`> ${line(10)}\n> ${line(10)}`)
    else if (kind < 0.62)
      blocks.push(
        [
          '| a | b |',
          '|---|--:|',
          ...Array.from({ length: 1 + Math.floor(random() * 140) }, () => `| ${line(2)} | ${line(1)} |`)
        ].join('\n')
      )
    else if (kind < 0.85) {
      const marker = pick(['```', '~~~', '````'])
      const lang = pick(['', 'ts', 'python', 'js title="a b"'])
      const body = Array.from(
        { length: 1 + Math.floor(random() * 120) },
        () => '  '.repeat(Math.floor(random() * 3)) + line(Math.floor(random() * 12))
      )
      blocks.push(`${marker}${lang}\n${body.join('\n')}\n${marker}`)
    } else if (kind < 0.92) blocks.push('中文句子。'.repeat(50 + Math.floor(random() * 200)))
    else blocks.push('😀'.repeat(100 + Math.floor(random() * 600)))
  }
  return blocks.join(pick(['\n\n', '\n\n\n']))
}

const fenceLine = /^\s*(`{3,}|~{3,})(.*)$/

/** The fence left open at the end of a text, read apart from the engine's own code. */
function openFence(text: string): string | undefined {
  let open: string | undefined
  for (const line of text.split('\n')) {
    const m = fenceLine.exec(line)
    if (!m) continue
    if (open === undefined) open = m[1]
    else if (m[1]![0] === open[0] && m[1]!.length >= open.length && m[2]!.trim() === '') open = undefined
  }
  return open
}

const words = (text: string) =>
  text
    .split('\n')
    .filter(line => !fenceLine.test(line))
    .join('\n')
    .split(/\s+/)
    .filter(Boolean)

/** The words of the posts are the words of the whole, a word longer than a post maybe cut. */
function sameWords(whole: string[], split: string[]): string | undefined {
  let j = 0
  for (const [i, word] of whole.entries()) {
    if (split[j] === word) {
      j++
      continue
    }
    let joined = ''
    while (j < split.length && joined.length < word.length && word.startsWith(joined + split[j])) joined += split[j++]
    if (joined !== word) return `word ${i} "${word.slice(0, 40)}" became "${String(split[j]).slice(0, 40)}"`
  }
  return j === split.length ? undefined : `extra words: ${split.slice(j, j + 3).join(' ')}`
}

const rule = /^─[─┼]*$/

/** Posts without the header and rule a monospace table cut across posts repeats at their top. */
function withoutRepeatedHeads(posts: string[]): string[] {
  return posts.map((post, p) => {
    const lines = post.split('\n')
    const head = `${lines[1]}\n${lines[2]}`
    if (p === 0 || lines[0] !== '```' || !rule.test(lines[2] ?? '') || !posts[p - 1]!.includes(head)) return post
    return [lines[0], ...lines.slice(3)].join('\n')
  })
}

const whole = (flow: Flow) =>
  splitFlow(flow, { chars: Number.POSITIVE_INFINITY })
    .map(p => p.text)
    .join('\n\n')

for (const [platform, writer] of [
  ['Slack', () => new SlackWriter()],
  ['Discord', () => new DiscordWriter()]
] as const) {
  t.test(`${platform}: random documents keep every promise`, async t => {
    const random = seeded(platform.length * 1000 + 14)
    let failures = 0
    for (let i = 0; i < 100 && failures < 3; i++) {
      const limit = [2000, 4096, 500, 10_000][i % 4]!
      const flow = writer().render(parseMarkdown(randomDocument(random, limit)))
      const posts = splitFlow(flow, { chars: limit, blocks: 49, tables: 1 })
      const problems: string[] = []
      posts.forEach((post, p) => {
        const length = post.segments.reduce((n, s) => n + ('text' in s ? s.text.length : 0), 0)
        if (length > limit) problems.push(`post ${p} has ${length} characters`)
        if (post.segments.length > 49) problems.push(`post ${p} has ${post.segments.length} blocks`)
        if (post.segments.filter(s => 'block' in s && (s.block as { type: string }).type === 'table').length > 1)
          problems.push(`post ${p} has two tables`)
        for (const s of post.segments)
          if ('text' in s && openFence(s.text)) problems.push(`post ${p} leaves a fence open`)
        if (/[\ud800-\udbff]$|^[\udc00-\udfff]/.test(post.text)) problems.push(`post ${p} cuts a surrogate pair`)
      })
      const lost = sameWords(words(whole(flow)), words(withoutRepeatedHeads(posts.map(p => p.text)).join('\n')))
      if (lost) problems.push(lost)
      if (!t.same(problems, [], `document ${i}, limit ${limit}`)) failures++
    }
  })
}

const slackPosts = (markdown: string, limit: number) =>
  splitFlow(new SlackWriter().render(parseMarkdown(markdown)), { chars: limit }).map(p => p.text)

t.test('text within the limit stays one post, and blank text none', async t => {
  t.same(slackPosts('Hello **world**', 100), ['Hello **world**'])
  t.same(slackPosts('', 100), [])
  t.same(slackPosts('\n\n  \n', 100), [])
})

t.test('cuts between paragraphs before cutting between lines or words', async t => {
  const first = `${'a'.repeat(40)}\n${'b'.repeat(40)}`
  const second = 'c'.repeat(40)
  t.same(slackPosts(`${first}\n\n${second}`, 90), [first, second])
})

t.test('cuts between words, never inside one that fits', async t => {
  const text = Array.from({ length: 50 }, (_, i) => `word${i}`).join(' ')
  const posts = slackPosts(text, 60)
  t.ok(posts.length > 1)
  t.same(posts.join(' ').split(' '), text.split(' '))
  t.ok(posts.every(p => p.length <= 60 && !p.startsWith(' ') && !p.endsWith(' ')))
})

t.test('never inside a link, a list item that fits, or an emoji', async t => {
  const link = '[a link with several words](https://example.com/a_b_(c))'
  const posts = slackPosts(`${'word '.repeat(9)}${link} ${'word '.repeat(9)}`, 70)
  const written = '[a link with several words](https://example.com/a_b_%28c%29)'
  t.ok(
    posts.some(p => p.includes(written)),
    'the link is whole in one post'
  )
  const list = Array.from({ length: 12 }, (_, i) => `- item ${i} has a few words`).join('\n')
  t.ok(slackPosts(list, 80).every(p => p.split('\n').every(line => /^- item \d+ has a few words$/.test(line))))
  const family = '👨‍👩‍👧‍👦'
  const emoji = slackPosts(family.repeat(40), 50)
  t.same(emoji.join(''), family.repeat(40))
  t.ok(
    emoji.every(p => p.length % family.length === 0),
    'cut between whole family emoji'
  )
})

t.test('a long code block is closed and reopened with its language; posts are filled', async t => {
  const code = Array.from({ length: 30 }, (_, i) => `    line_${i} = ${i}`).join('\n')
  const posts = slackPosts(`Intro\n\n\`\`\`python\n${code}\n\`\`\`\n\nOutro`, 200)
  t.ok(posts.filter(p => p.startsWith('```python\n')).length >= 2)
  t.ok(posts.every(p => !openFence(p)))
  t.ok(posts[0]!.startsWith('Intro\n\n```python\n'), 'a post is filled rather than sent a quarter full')
  t.ok(posts.at(-1)!.endsWith('```\n\nOutro'))
})

t.test('a code block inside a list item reopens without the item indent', async t => {
  const code = Array.from({ length: 20 }, (_, i) => `echo ${i}`).join('\n')
  const posts = slackPosts(`1. Run:\n   - deeper\n\n     ~~~~bash\n${code.replace(/^/gm, '     ')}\n     ~~~~`, 120)
  t.ok(
    posts.slice(1).every(p => p.startsWith('```bash\necho ')),
    'reopened as bash, at the margin'
  )
  t.ok(posts.every(p => !openFence(p)))
})

t.test('flows of several messages are split as one post stream, cut between messages first', async t => {
  const a = new DiscordWriter().render(parseMarkdown('**User**: where is my order?'))
  const b = new DiscordWriter().render(parseMarkdown(`**Bot**: ${'It ships tomorrow. '.repeat(5)}`))
  const posts = splitFlow(joinFlows([a, b]), { chars: 120 })
  t.same(
    posts.map(p => p.text),
    ['**User**: where is my order?', `**Bot**: ${'It ships tomorrow. '.repeat(5).trim()}`]
  )
})

t.test('Slack: one table a post, and a post goes on after its table', async t => {
  const table = (n: number) => `| Plan ${n} | Price |\n|---|---|\n| Basic | $${n} |`
  const split = (markdown: string) =>
    splitFlow(new SlackWriter().render(parseMarkdown(markdown)), { chars: 4000, blocks: 49, tables: 1 })
  const kinds = (posts: ReturnType<typeof split>) =>
    posts.map(post => post.segments.map(s => ('block' in s ? (s.block as { type: string }).type : 'markdown')))
  t.same(kinds(split(`Our plans:\n\n${table(1)}\n\nAsk me anything.`)), [['markdown', 'table', 'markdown']])
  const two = split(`Our plans:\n\n${table(1)}\n\nThanks.\n\nAnd the add-ons:\n\n${table(2)}\n\nDone.`)
  t.same(kinds(two), [
    ['markdown', 'table'],
    ['markdown', 'table', 'markdown']
  ])
  t.match(two[1]!.text, /^Thanks\.\n\nAnd the add-ons:/, 'what introduces the second table stays with it')
})

t.test('a monospace table cut across posts repeats its header and rule at the top of each', async t => {
  const rows = Array.from({ length: 60 }, (_, i) => `| item ${i} | ${i * 3} |`)
  const markdown = ['Stock:', '', '| Item | Count |', '|---|--:|', ...rows].join('\n')
  const posts = splitFlow(new DiscordWriter().render(parseMarkdown(markdown)), { chars: 400 }).map(p => p.text)
  t.ok(posts.length > 2, `${posts.length} posts`)
  const header = /^Item +│ Count$/
  for (const [i, post] of posts.entries()) {
    const lines = post.split('\n')
    const top = i === 0 ? lines.indexOf('```') : 0
    t.match(lines[top + 1], header, `post ${i + 1} shows the header`)
    t.match(lines[top + 2], rule, `post ${i + 1} shows the rule`)
    t.match(lines[top + 3], /^item \d+/, `post ${i + 1} then a row`)
    t.notOk(openFence(post), `post ${i + 1} closes its fence`)
  }
  t.same(
    withoutRepeatedHeads(posts)
      .join('\n')
      .match(/item \d+/g),
    rows.map((_, i) => `item ${i}`),
    'every row once, in order'
  )
})
