import { systemClock } from '../../src/clock.js'
import t from 'tap'
import plugin from '../../plugins/discord/index.js'
import { discordTexts } from '../../plugins/discord/markdown.js'
import { ChannelType, FakeDiscord } from '../fakes/discord.js'
import { memoryState } from '../helpers/memory-state.js'
import { deliveryContext, recordingLogger, relayMessage } from '../helpers/relay.js'
import { deliverOne } from '../../src/relays/run-adapter.js'

const fake = await new FakeDiscord().start()
t.teardown(() => fake.close())

const answer = [
  '# 方案对比',
  '| 方案 | 价格 | Users |',
  '|:--|--:|:-:|',
  '| 基础版 | ¥99 | 1 |',
  '| Pro | ¥1,299 | 20 |',
  '',
  '- [x] 注册账号',
  '- [ ] 绑定支付',
  '',
  '---',
  '',
  '#### Details',
  '',
  '__Important__: see [the docs](https://example.com/a_b_(c)) or https://example.com/x_y_z.',
  '',
  'Keep ||secrets|| and a_b_c safe.'
].join('\n')

t.test('tables, task lists, rules, headings and links as Discord shows them', async t => {
  const [text] = discordTexts(answer, 2000)
  t.equal(
    text,
    [
      '# 方案对比',
      '```',
      '方案   │   价格 │ Users',
      '───────┼────────┼──────',
      '基础版 │    ¥99 │   1',
      'Pro    │ ¥1,299 │  20',
      '```',
      '',
      '- ☑ 注册账号',
      '- ☐ 绑定支付',
      '',
      '────────────────────────',
      '',
      '**Details**',
      '',
      '**Important**: see [the docs](https://example.com/a_b_%28c%29) or https://example.com/x_y_z.',
      '',
      'Keep \\|\\|secrets\\|\\| and a\\_b\\_c safe.'
    ].join('\n'),
    'CJK counts two columns; __ is written as ** (underline on Discord); || and _ escaped'
  )
})

t.test('linkPreviews: false posts with SUPPRESS_EMBEDS; the strict fake accepts it', async t => {
  for (const [linkPreviews, flags] of [
    [false, 4],
    [true, undefined]
  ] as const) {
    const channel = fake.addChannel(ChannelType.Text)
    const relay = await plugin.create(
      { token: fake.token, channel: channel.id, mode: 'channel', apiUrl: fake.api, linkPreviews },
      { name: 'discord.md', logger: recordingLogger(), configDir: '.', clock: systemClock }
    )
    const outcome = await deliverOne(relay, relayMessage({ text: answer }), deliveryContext(memoryState()))
    t.equal(outcome.status, 'delivered')
    t.same(
      fake.messagesIn(channel.id).map(m => m.flags),
      [flags]
    )
  }
})
