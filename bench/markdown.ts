/*
 * Rendering and splitting one 20,000-character LLM answer (headings, paragraphs with links and
 * emphasis, lists, tables, code, Chinese), as each relay does on every delivery.
 *   npx tsx bench/markdown.ts            # this tree's engine
 *   BENCH_MARKDOWN_ROOT=/some/checkout npx tsx bench/markdown.ts   # another checkout's code
 * With BENCH_MARKDOWN_ROOT pointing at a checkout from before #14, the old hand-written
 * splitters (plugins/slack/split.ts, plugins/discord/split.ts) are measured instead.
 *   BENCH_MARKDOWN_BEFORE=/some/checkout npx tsx bench/markdown.ts   # that engine vs this, in turns
 */
import { existsSync } from 'node:fs'
import { pathToFileURL } from 'node:url'

export function answer(): string {
  const paragraph = (i: number) =>
    `Paragraph ${i} explains **step ${i}** with a [reference](https://docs.example.com/guide_(v${i})) and ` +
    '以下是**重要**信息，请仔细阅读。 enough words to make it a realistic paragraph of an answer. '.repeat(2).trim()
  const table =
    '| Plan | 价格 | Users |\n|:--|--:|:-:|\n' +
    Array.from({ length: 8 }, (_, k) => `| Plan ${k} | ¥${k * 99} | ${k} |`).join('\n')
  const code =
    '```python\n' +
    Array.from({ length: 25 }, (_, k) => `result_${k} = compute(${k}, "value ${k}")`).join('\n') +
    '\n```'
  const list = Array.from(
    { length: 6 },
    (_, k) => `- [${k % 2 ? 'x' : ' '}] item ${k} with \`code\`\n  - nested ${k}`
  ).join('\n')
  const blocks = ['# A long answer']
  for (let i = 0; blocks.join('\n\n').length < 20_000; i++)
    blocks.push(`## Section ${i}`, paragraph(i), table, code, list)
  return blocks.join('\n\n').slice(0, 20_000)
}

type Run = { name: string; run: (text: string) => unknown }

async function runs(root: string | undefined): Promise<Run[]> {
  const base = root ?? `${import.meta.dirname}/..`
  const from = (path: string) => import(pathToFileURL(`${base}/${path}`).href)
  if (root && !existsSync(`${root}/src/markdown/parse.ts`)) {
    const slackFormat = await from('plugins/slack/format.ts')
    const slackSplit = await from('plugins/slack/split.ts')
    const discordSplit = await from('plugins/discord/split.ts')
    return [
      { name: 'slack (before)', run: text => slackSplit.splitMarkdown(slackFormat.safeMarkdown(text), 10_000) },
      { name: 'discord (before)', run: text => discordSplit.splitText(text, 2000) }
    ]
  }
  const { SlackWriter } = await from('plugins/slack/markdown.ts')
  const { discordTexts } = await from('plugins/discord/markdown.ts')
  const { parseMarkdown } = await from('src/markdown/parse.ts')
  const { splitFlow } = await from('src/markdown/split.ts')
  const { renderTerminal } = await from('src/markdown/terminal.ts')
  return [
    { name: 'parse only', run: text => parseMarkdown(text) },
    {
      name: 'slack',
      run: text => splitFlow(new SlackWriter().render(parseMarkdown(text)), { chars: 10_000, blocks: 49, tables: 1 })
    },
    { name: 'discord', run: text => discordTexts(text, 2000) },
    { name: 'console', run: text => renderTerminal(text) }
  ]
}

const text = answer()
const quantile = (times: number[], q: number) => (times[Math.floor(q * (times.length - 1))] as number).toFixed(2)
const line = (name: string, times: number[]) => {
  times.sort((a, b) => a - b)
  return `${name.padEnd(18)} median ${quantile(times, 0.5)} ms   p90 ${quantile(times, 0.9)} ms   min ${quantile(times, 0)} ms`
}
const timed = (run: Run['run']) => {
  const start = performance.now()
  run(text)
  return performance.now() - start
}
console.log(`answer: ${text.length} characters`)

// BENCH_MARKDOWN_BEFORE=/checkout: that checkout's engine and this tree's, run in turns in one
// process, so both see the same load; the ratio of the two is the figure to compare.
const before = process.env.BENCH_MARKDOWN_BEFORE
if (before) {
  const [old, now] = [await runs(before), await runs(undefined)]
  for (const after of now) {
    const paired = old.find(run => run.name === after.name)
    if (!paired) continue
    for (let i = 0; i < 30; i++) paired.run(text), after.run(text)
    const a: number[] = []
    const b: number[] = []
    for (let i = 0; i < 200; i++) {
      a.push(timed(paired.run))
      b.push(timed(after.run))
    }
    console.log(line(`${after.name} before`, a))
    console.log(line(`${after.name} after`, b))
  }
} else {
  for (const { name, run } of await runs(process.env.BENCH_MARKDOWN_ROOT)) {
    for (let i = 0; i < 30; i++) run(text)
    console.log(
      line(
        name,
        Array.from({ length: 200 }, () => timed(run))
      )
    )
  }
}
