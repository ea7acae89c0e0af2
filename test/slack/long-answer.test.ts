import { systemClock } from '../../src/clock.js'
import t from 'tap'
import { safeMarkdown } from '../../plugins/slack/format.js'
import plugin from '../../plugins/slack/index.js'
import type { SlackOptions } from '../../plugins/slack/options.js'
import { FakeSlack, fakeChannel, fakeToken, relayMessage, shownMarkdown } from '../fakes/slack.js'
import { memoryState } from '../helpers/memory-state.js'
import { deliveryContext, recordingLogger } from '../helpers/relay.js'
import { deliverOne } from '../../src/relays/run-adapter.js'

/** A long LLM answer: headings, lists, links, bold, and code blocks, one longer than a whole part. */
function longAnswer(): string {
  const paragraph = (i: number) =>
    `Paragraph ${i} explains **step ${i}** in detail, with a [reference](https://docs.example.com/${i}) ` +
    'and enough words to make it a realistic paragraph of an answer that goes on for a while. '.repeat(4).trim()
  const list = (i: number) =>
    Array.from({ length: 6 }, (_, k) => `${k + 1}. Item ${i}.${k} with \`inline\` code`).join('\n')
  const code = (language: string, lines: number, tag: string) =>
    [
      '```' + language,
      ...Array.from({ length: lines }, (_, k) => `    result_${tag}_${k} = compute(${k}, "value ${k}")  # keep ${k}`),
      '```'
    ].join('\n')
  const blocks = ['# A long answer', paragraph(0), list(0)]
  for (let i = 1; blocks.join('\n\n').length < 8000; i++) blocks.push(paragraph(i), list(i))
  blocks.push('Here is the big program:', code('python', 170, 'big'))
  for (let i = 100; blocks.join('\n\n').length < 19_500; i++) blocks.push(paragraph(i))
  blocks.push(code('ts', 12, 'small'), 'That is all.')
  return blocks.join('\n\n')
}

const isFence = (line: string) => /^\s*(```|~~~)/.test(line)

/**
 * Puts the posted parts back together: every line of the answer must come back in order, and
 * the only lines the splitter may add are fence lines that close and reopen a code block.
 */
function reassemble(parts: string[], original: string): { missing: string[]; unexpected: string[] } {
  const wanted = original.split('\n').filter(line => line.trim() !== '')
  const unexpected: string[] = []
  let k = 0
  for (const line of parts.flatMap(part => part.split('\n')).filter(line => line.trim() !== '')) {
    if (line === wanted[k]) k++
    else if (!isFence(line)) unexpected.push(line)
  }
  return { missing: wanted.slice(k), unexpected }
}

function balanced(part: string): boolean {
  return part.split('\n').filter(isFence).length % 2 === 0
}

type Teardown = Pick<typeof t, 'teardown'>

async function deliverLongAnswer(t: Teardown, options: Partial<SlackOptions>) {
  const fake = await FakeSlack.start({ rateLimit: { intervalMs: 1, burst: 10 } })
  t.teardown(() => fake.close())
  const relay = await plugin.create(
    { token: fakeToken, channel: fakeChannel, apiUrl: fake.apiUrl, pace: { intervalMs: 2, burst: 5 }, ...options },
    { name: 'slack.test', logger: recordingLogger(), configDir: '.', clock: systemClock }
  )
  const answer = longAnswer()
  const outcome = await deliverOne(relay, relayMessage({ text: answer }), deliveryContext(memoryState()))
  const replies = fake.replies(fake.parents()[0]?.ts ?? '')
  return { answer, outcome, replies, parts: replies.map(shownMarkdown) }
}
t.test('the answer under test is long, and needs no escaping', async t => {
  const answer = longAnswer()
  t.ok(answer.length >= 20_000, `${answer.length} characters`)
  t.equal(safeMarkdown(answer), answer)
})

for (const [what, options] of [
  ['default part length, prefixed', {}],
  ["Slack's own 12,000 limit, prefixed", { maxPartLength: 12_000 }],
  ['customized sender, 4,000 per part', { customize: true, maxPartLength: 4000 }]
] as const) {
  t.test(`a 20,000-character Markdown answer arrives whole and in order (${what})`, async t => {
    const { answer, outcome, replies, parts } = await deliverLongAnswer(t, options)
    t.equal(outcome.status, 'delivered', 'every part was accepted by the strict fake')
    t.ok(parts.length >= 2, `split into ${parts.length} parts`)
    t.same(
      outcome.status === 'delivered' && outcome.posted?.ts,
      replies.map(r => r.ts),
      'posted in this order'
    )
    const limit = options.maxPartLength ?? 10_000
    t.ok(
      parts.every(part => part.length <= limit),
      'no part over the part length'
    )
    t.ok(parts.every(balanced), 'no part leaves a code block open')
    t.ok(
      replies.every(r => r.text && r.text.length <= 3000),
      'each part has a short text fallback'
    )
    const { missing, unexpected } = reassemble(parts, answer)
    t.same(missing, [], 'no line of the answer is lost')
    t.same(unexpected, [], 'nothing but fences is added')
    const reopened = parts.filter((part, i) => i > 0 && part.startsWith('```python\n    result_big_'))
    t.ok(reopened.length >= 1, 'the big program continues in a reopened python block')
  })
}
