import { systemClock } from '../../src/clock.js'
import t from 'tap'
import plugin from '../../plugins/slack/index.js'
import { checkMessage, FakeSlack, fakeChannel, fakeToken, relayMessage, slackLimits } from '../fakes/slack.js'
import { memoryState } from '../helpers/memory-state.js'
import { deliveryContext, recordingLogger } from '../helpers/relay.js'
import { deliverOne } from '../../src/relays/run-adapter.js'

const cell = (text: string) => ({ type: 'raw_text', text })
const table = (rows: number, cells: number, extra: Record<string, unknown> = {}) => ({
  type: 'table',
  rows: Array.from({ length: rows }, (_, r) => Array.from({ length: cells }, (_, c) => cell(`${r}.${c}`))),
  ...extra
})
const problem = (blocks: unknown[]) => checkMessage({ text: 'x', blocks })?.body as { error?: string } | undefined

t.test('the fake checks table blocks as strictly as Slack documents them', async t => {
  t.equal(problem([table(slackLimits.tableRows, slackLimits.tableCells)]), undefined, '100 rows of 20 cells pass')
  t.equal(problem([table(101, 2)])?.error, 'invalid_blocks', 'more than 100 rows')
  t.equal(problem([table(2, 21)])?.error, 'invalid_blocks', 'more than 20 cells')
  t.equal(problem([{ type: 'table', rows: [] }])?.error, 'invalid_blocks', 'no rows')
  t.equal(problem([{ type: 'table', rows: [[cell('')]] }])?.error, 'invalid_blocks', 'an empty raw_text')
  t.equal(
    problem([{ type: 'table', rows: [[{ type: 'mrkdwn', text: 'x' }]] }])?.error,
    'invalid_blocks',
    'a cell of another type'
  )
  t.equal(problem([table(2, 2, { column_settings: [{ align: 'middle' }] })])?.error, 'invalid_blocks', 'a bad align')
  t.equal(problem([table(2, 2, { column_settings: [{ is_wrapped: 'yes' }] })])?.error, 'invalid_blocks')
  t.equal(problem([table(2, 2, { column_settings: Array.from({ length: 21 }, () => ({})) })])?.error, 'invalid_blocks')
  t.equal(problem([table(2, 2), table(2, 2)])?.error, 'invalid_attachments', 'only one table per message')
})

const answer = [
  '## 价格对比',
  '以下是**重要**信息：',
  [
    '| 方案 | 价格 | 说明 |',
    '|:--|--:|:-:|',
    '| 基础版 | ¥99 | 适合**个人** |',
    '| 专业版 | ¥299 | [详情](https://example.com/pro_plan_(2024)) |'
  ].join('\n'),
  '---',
  '- [x] 注册账号',
  '- [ ] 绑定支付',
  '| A | B |\n|---|---|\n| 1 | 2 |',
  'Done.'
].join('\n\n')

t.test('tables reach Slack as table blocks, one per message, the text after a table in the same post', async t => {
  const fake = await FakeSlack.start({ rateLimit: false })
  t.teardown(() => fake.close())
  const relay = await plugin.create(
    { token: fakeToken, channel: fakeChannel, apiUrl: fake.apiUrl, pace: { intervalMs: 0, burst: 1 } },
    { name: 'slack.test', logger: recordingLogger(), configDir: '.', clock: systemClock }
  )
  const outcome = await deliverOne(relay, relayMessage({ text: answer }), deliveryContext(memoryState()))
  t.equal(outcome.status, 'delivered', 'the strict fake accepted every post')
  const replies = fake.messages.filter(m => m.thread_ts)
  t.equal(replies.length, 2, 'two tables: the post ends after the first, the second post holds the rest')
  const [first, second] = replies
  t.same(
    first!.blocks!.map(b => b.type),
    ['context', 'markdown', 'table']
  )
  t.same(
    second!.blocks!.map(b => b.type),
    ['divider', 'markdown', 'table', 'markdown']
  )
  t.equal(
    first!.blocks![1]!.text,
    '## 价格对比\n\n以下是\u200b**重要**\u200b信息：',
    'emphasis next to Chinese gets word edges'
  )
  const rich = (...elements: unknown[]) => ({ type: 'rich_text', elements: [{ type: 'rich_text_section', elements }] })
  t.same(first!.blocks![2], {
    type: 'table',
    rows: [
      [cell('方案'), cell('价格'), cell('说明')],
      [
        cell('基础版'),
        cell('¥99'),
        rich({ type: 'text', text: '适合' }, { type: 'text', text: '个人', style: { bold: true } })
      ],
      [cell('专业版'), cell('¥299'), rich({ type: 'link', url: 'https://example.com/pro_plan_(2024)', text: '详情' })]
    ],
    column_settings: [{ align: 'left' }, { align: 'right' }, { align: 'center' }]
  })
  t.equal(second!.blocks![1]!.text, '- ☑ 注册账号\n\n- ☐ 绑定支付')
  t.equal(
    first!.text,
    'Bot: 价格对比\n\n以下是重要信息：\n\n方案 | 价格 | 说明\n基础版 | ¥99 | 适合个人\n专业版 | ¥299 | 详情 (https://example.com/pro_plan_(2024))',
    'the notification is clean plain text'
  )
})

t.test('a table too big for a table block is a monospace table, aligned for CJK', async t => {
  const fake = await FakeSlack.start({ rateLimit: false })
  t.teardown(() => fake.close())
  const relay = await plugin.create(
    { token: fakeToken, channel: fakeChannel, apiUrl: fake.apiUrl, pace: { intervalMs: 0, burst: 1 } },
    { name: 'slack.test', logger: recordingLogger(), configDir: '.', clock: systemClock }
  )
  const rows = Array.from({ length: 120 }, (_, i) => `| ${i} | 第${i}行 |`)
  const text = ['| # | 名称 |', '|--:|---|', ...rows].join('\n')
  const outcome = await deliverOne(relay, relayMessage({ text }), deliveryContext(memoryState()))
  t.equal(outcome.status, 'delivered')
  const markdown = fake.messages.filter(m => m.thread_ts).flatMap(m => m.blocks!.filter(b => b.type === 'markdown'))
  t.equal(markdown.length, 1)
  const lines = String(markdown[0]!.text).split('\n')
  t.same(lines.slice(0, 4), ['```', '  # │ 名称', '────┼────────', '  0 │ 第0行'])
  t.equal(lines.at(-2), '119 │ 第119行')
})

t.test('a short answer with one table is one post, and the fake checks rich_text cells', async t => {
  const fake = await FakeSlack.start({ rateLimit: false })
  t.teardown(() => fake.close())
  const relay = await plugin.create(
    { token: fakeToken, channel: fakeChannel, apiUrl: fake.apiUrl, pace: { intervalMs: 0, burst: 1 } },
    { name: 'slack.test', logger: recordingLogger(), configDir: '.', clock: systemClock }
  )
  const text = 'Plans:\n\n| Plan | Note |\n|---|---|\n| Pro | `fast` and ~~old~~ *new* |\n\nAsk me anything.'
  const outcome = await deliverOne(relay, relayMessage({ text }), deliveryContext(memoryState()))
  t.equal(outcome.status, 'delivered')
  const replies = fake.messages.filter(m => m.thread_ts)
  t.equal(replies.length, 1, 'one post')
  t.same(
    replies[0]!.blocks!.map(b => b.type),
    ['context', 'markdown', 'table', 'markdown']
  )
  const rows = (replies[0]!.blocks![2] as { rows: unknown[][] }).rows
  t.same(rows[1]![1], {
    type: 'rich_text',
    elements: [
      {
        type: 'rich_text_section',
        elements: [
          { type: 'text', text: 'fast', style: { code: true } },
          { type: 'text', text: ' and ' },
          { type: 'text', text: 'old', style: { strike: true } },
          { type: 'text', text: ' ' },
          { type: 'text', text: 'new', style: { italic: true } }
        ]
      }
    ]
  })
  const richCell = (elements: unknown) => ({ type: 'table', rows: [[{ type: 'rich_text', elements }]] })
  const section = (...elements: unknown[]) => [{ type: 'rich_text_section', elements }]
  t.equal(problem([richCell(section({ type: 'text', text: 'ok', style: { bold: true } }))]), undefined)
  t.equal(problem([richCell([])])?.error, 'invalid_blocks', 'no elements')
  t.equal(problem([richCell(section({ type: 'text', text: '' }))])?.error, 'invalid_blocks', 'an empty text')
  t.equal(problem([richCell(section({ type: 'text', text: 'x', style: { huge: true } }))])?.error, 'invalid_blocks')
  t.equal(problem([richCell(section({ type: 'link', url: '' }))])?.error, 'invalid_blocks', 'a link without a url')
  t.equal(problem([richCell([{ type: 'rich_text_list', elements: [] }])])?.error, 'invalid_blocks')
})
