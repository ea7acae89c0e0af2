/*
 * Rendering and splitting one 20,000-character LLM answer (headings, paragraphs with links and
 * emphasis, lists, tables, code, Chinese), as each relay does on every delivery.
 *   npx tsx bench/markdown.ts            # this tree's engine
 *   BENCH_MARKDOWN_ROOT=/some/checkout npx tsx bench/markdown.ts   # another checkout's code
 * With BENCH_MARKDOWN_ROOT pointing at a checkout from before #14, the old hand-written
 * splitters (plugins/slack/split.ts, plugins/discord/split.ts) are measured instead.
 */
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
  const from = (path: string) => import(pathToFileURL(`${root ?? `${import.meta.dirname}/..`}/${path}`).href)
  if (root) {
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
console.log(`answer: ${text.length} characters`)
for (const { name, run } of await runs(process.env.BENCH_MARKDOWN_ROOT)) {
  for (let i = 0; i < 30; i++) run(text)
  const times: number[] = []
  for (let i = 0; i < 200; i++) {
    const start = performance.now()
    run(text)
    times.push(performance.now() - start)
  }
  times.sort((a, b) => a - b)
  const at = (q: number) => (times[Math.floor(q * (times.length - 1))] as number).toFixed(2)
  console.log(`${name.padEnd(18)} median ${at(0.5)} ms   p90 ${at(0.9)} ms   min ${at(0)} ms`)
}
