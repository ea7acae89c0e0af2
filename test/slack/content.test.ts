import { systemClock } from '../../src/clock.js'
import t from 'tap'
import plugin from '../../plugins/slack/index.js'
import type { SlackOptions } from '../../plugins/slack/options.js'
import type { RelayMessage } from '../../src/message.js'
import { FakeSlack, fakeChannel, fakeToken, relayMessage, shownMarkdown, type PostedMessage } from '../fakes/slack.js'
import { memoryState } from '../helpers/memory-state.js'
import { deliveryContext, recordingLogger } from '../helpers/relay.js'
import { deliverOne } from '../../src/relays/run-adapter.js'

type Teardown = Pick<typeof t, 'teardown'>

/** Relays one message into a fresh thread and returns what Slack shows of it. */
async function relayed(
  t: Teardown,
  message: Partial<RelayMessage>,
  options: Partial<SlackOptions> = {}
): Promise<PostedMessage[]> {
  const fake = await FakeSlack.start({ rateLimit: false })
  t.teardown(() => fake.close())
  const relay = await plugin.create(
    { token: fakeToken, channel: fakeChannel, apiUrl: fake.apiUrl, pace: { intervalMs: 0, burst: 1 }, ...options },
    { name: 'slack.test', logger: recordingLogger(), configDir: '.', clock: systemClock }
  )
  const outcome = await deliverOne(relay, relayMessage(message), deliveryContext(memoryState()))
  if (outcome.status !== 'delivered') throw new Error(`not delivered: ${JSON.stringify(outcome)}`)
  return fake.messages.filter(m => m.thread_ts)
}

const joiner = /\u2060/g

t.test('flow output only (V1 flow bot without text)', async t => {
  const [reply] = await relayed(t, {
    text: undefined,
    flowOutput: [{ componentName: 'User Input', branch: '1', content: '你好', audio: [] }]
  })
  t.equal(shownMarkdown(reply!), '_User Input · branch 1_\n\n你好')
  t.match(reply?.text, /你好/, 'the fallback carries it too')
})

t.test('flowOutput option: hidden, or only when there is no text', async t => {
  const message = { text: 'Answer', flowOutput: [{ componentName: 'LLM', content: 'Draft', audio: [] }] }
  t.equal(shownMarkdown((await relayed(t, message))[0]!), 'Answer\n\n_LLM_\n\nDraft', 'shown by default')
  t.equal(shownMarkdown((await relayed(t, message, { flowOutput: 'hidden' }))[0]!), 'Answer')
  t.equal(shownMarkdown((await relayed(t, message, { flowOutput: 'whenNoText' }))[0]!), 'Answer')
  t.equal(
    shownMarkdown((await relayed(t, { ...message, text: undefined }, { flowOutput: 'whenNoText' }))[0]!),
    '_LLM_\n\nDraft'
  )
})

t.test('V2 audio shows as a link with its transcript', async t => {
  const [reply] = await relayed(t, {
    format: 'v2',
    text: undefined,
    flowOutput: [
      {
        componentName: 'Component Name',
        branch: '1',
        content: 'Hi, is there anything I can help you?',
        audio: [{ url: 'http://gptbots.ai/example.mp3', transcript: 'The transcribed text of the audio' }]
      }
    ]
  })
  t.equal(
    shownMarkdown(reply!),
    [
      '_Component Name · branch 1_',
      'Hi, is there anything I can help you?',
      '🔊 [Audio](http://gptbots.ai/example.mp3)\n> The transcribed text of the audio'
    ].join('\n\n')
  )
})

t.test('an empty message posts nothing and starts no thread', async t => {
  const fake = await FakeSlack.start({ rateLimit: false })
  t.teardown(() => fake.close())
  const relay = await plugin.create(
    { token: fakeToken, channel: fakeChannel, apiUrl: fake.apiUrl },
    { name: 'slack.test', logger: recordingLogger(), configDir: '.', clock: systemClock }
  )
  const outcome = await deliverOne(relay, relayMessage({ text: '  ', flowOutput: [] }), deliveryContext(memoryState()))
  t.same(outcome, { status: 'delivered', posted: { channel: fakeChannel, parts: 0 } })
  t.equal(fake.messages.length, 0)
})

t.test('mass mentions in relayed text do not ping', async t => {
  const pings = [
    '<!channel>',
    '<!here>',
    '<!everyone>',
    '<!subteam^S0123ABC|@oncall>',
    '<@U0123ABC>',
    '@channel',
    '@here',
    '@everyone'
  ]
  const text = `Attention ${pings.join(' ')} please`
  const [reply] = await relayed(t, { type: 'QUESTION', text })
  const shown = shownMarkdown(reply!)
  for (const ping of pings) {
    t.notOk(shown.includes(ping), `${ping} is broken up in the markdown`)
    t.notOk(reply?.text?.includes(ping), `${ping} is broken up in the text fallback`)
  }
  t.notMatch(reply?.text ?? '', /<[!@#]/, 'no control sequence opens in the fallback')
  t.equal(shown.replace(joiner, '').replace(/\\</g, '<'), text, 'the words still read the same')
})

t.test(
  '&, < and > in user text stay text; an entity is the character it stands for, as CommonMark reads it',
  async t => {
    const [reply] = await relayed(t, { type: 'QUESTION', text: 'Tom & Jerry <b>bold</b> a<b &amp; x>y' })
    t.equal(reply?.text, 'User: Tom &amp; Jerry &lt;b&gt;bold&lt;/b&gt; a&lt;b &amp; x&gt;y', 'escaped mrkdwn fallback')
    t.equal(shownMarkdown(reply!), 'Tom & Jerry \\<b>bold\\</b> a\\<b & x>y', 'backslash-escaped Markdown')
  }
)

t.test('without customize: a speaker prefix on the first part, no sender override', async t => {
  const [question] = await relayed(t, { type: 'QUESTION', text: 'Why?' })
  t.same(question?.blocks?.[0], {
    type: 'context',
    elements: [{ type: 'mrkdwn', text: ':bust_in_silhouette: *User*' }]
  })
  t.equal(question?.text, 'User: Why?')
  t.equal(question?.username, undefined)
  const [answer] = await relayed(
    t,
    { type: 'ANSWER', text: 'Because.' },
    {
      answer: { name: 'Helper <3', iconUrl: 'https://example.com/bot.png' }
    }
  )
  t.same(answer?.blocks?.[0], {
    type: 'context',
    elements: [
      { type: 'image', image_url: 'https://example.com/bot.png', alt_text: 'Helper <3' },
      { type: 'mrkdwn', text: '*Helper &lt;3*' }
    ]
  })
  t.equal(answer?.text, 'Helper &lt;3: Because.')
})

t.test('with customize: each message posted under its speaker name and icon', async t => {
  const [question] = await relayed(t, { type: 'QUESTION', text: 'Why?' }, { customize: true })
  t.match(question, { username: 'User', icon_emoji: ':bust_in_silhouette:', text: 'Why?' })
  t.same(
    question?.blocks?.map(b => b.type),
    ['markdown'],
    'no prefix block'
  )
  const [answer] = await relayed(
    t,
    { type: 'ANSWER', text: 'Because.' },
    {
      customize: true,
      answer: { name: 'Support Bot', iconUrl: 'https://example.com/bot.png' }
    }
  )
  t.match(answer, { username: 'Support Bot', icon_url: 'https://example.com/bot.png', icon_emoji: undefined })
})

t.test('the options schema accepts the documented config and refuses a channel name', async t => {
  const { Value } = await import('typebox/value')
  t.ok(Value.Check(plugin.options, { token: 'xoxb-1-2', channel: 'C0123456', apiUrl: 'https://slack.com/api/' }))
  t.notOk(Value.Check(plugin.options, { token: 'xoxb-1-2', channel: '#general' }))
  t.notOk(Value.Check(plugin.options, { token: 'xoxb-1-2', channel: 'C0123456', maxPartLength: 20_000 }))
  t.equal(plugin.type, 'slack')
})
