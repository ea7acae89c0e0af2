import { ManualClock } from '../helpers/clock.js'
import t from 'tap'
import { slackEpoch, FakeSlack, fakeChannel, fakeToken, slackLimits } from '../fakes/slack.js'

// The fake is only worth what its strictness is worth: each limit a relay must respect is checked here.

type Params = Record<string, unknown>

async function call(fake: FakeSlack, method: string, params: Params, options: { token?: string; json?: boolean } = {}) {
  const token = options.token ?? fakeToken
  const body = options.json
    ? JSON.stringify(params)
    : new URLSearchParams(
        Object.entries(params).map(([k, v]): [string, string] => [k, typeof v === 'string' ? v : JSON.stringify(v)])
      ).toString()
  const response = await fetch(fake.apiUrl + method, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': options.json ? 'application/json' : 'application/x-www-form-urlencoded'
    },
    body
  })
  const text = await response.text()
  const json = (response.headers.get('content-type') ?? '').includes('json')
  return {
    status: response.status,
    retryAfter: response.headers.get('retry-after'),
    body: (json ? JSON.parse(text) : { text }) as Params
  }
}

const markdown = (text: string) => ({ type: 'markdown', text })
const section = (text: string) => ({ type: 'section', text: { type: 'mrkdwn', text } })

t.test('accepts a message within the limits and records it', async t => {
  const fake = await FakeSlack.start({ rateLimit: false })
  t.teardown(() => fake.close())
  const blocks = [markdown('m'.repeat(slackLimits.markdownTotal))]
  const reply = await call(fake, 'chat.postMessage', {
    channel: fakeChannel,
    text: 'fallback',
    blocks,
    username: 'Bot',
    icon_emoji: ':robot_face:',
    metadata: { event_type: 'gptbots_conversation', event_payload: { conversation_id: 'c1' } }
  })
  t.equal(reply.body.ok, true)
  t.equal(fake.messages.length, 1)
  t.match(fake.messages[0], {
    channel: fakeChannel,
    text: 'fallback',
    blocks,
    username: 'Bot',
    icon_emoji: ':robot_face:'
  })
  t.equal(fake.messages[0]?.metadata?.event_payload.conversation_id, 'c1')
  const json = await call(
    fake,
    'chat.postMessage',
    { channel: fakeChannel, text: 'as JSON', blocks: [section('s')] },
    { json: true }
  )
  t.equal(json.body.ok, true, 'JSON bodies work too')
})

t.test('rejects what Slack rejects', async t => {
  const fake = await FakeSlack.start({ rateLimit: false })
  t.teardown(() => fake.close())
  const cases: [string, Params, string][] = [
    ['51 blocks', { blocks: Array.from({ length: 51 }, () => section('x')) }, 'invalid_blocks'],
    ['a section over 3,000', { blocks: [section('x'.repeat(3001))] }, 'invalid_blocks'],
    [
      'a header over 150',
      { blocks: [{ type: 'header', text: { type: 'plain_text', text: 'h'.repeat(151) } }] },
      'invalid_blocks'
    ],
    ['a mrkdwn header', { blocks: [{ type: 'header', text: { type: 'mrkdwn', text: 'h' } }] }, 'invalid_blocks'],
    [
      '11 context elements',
      { blocks: [{ type: 'context', elements: Array.from({ length: 11 }, () => ({ type: 'mrkdwn', text: 'c' })) }] },
      'invalid_blocks'
    ],
    ['an unknown block', { blocks: [{ type: 'poem', text: 'x' }] }, 'invalid_blocks'],
    ['an empty markdown block', { blocks: [markdown('')] }, 'invalid_blocks'],
    [
      'markdown blocks over 12,000 together',
      { blocks: [markdown('a'.repeat(6000)), markdown('b'.repeat(6001))] },
      'msg_blocks_too_long'
    ],
    ['markdown_text with text', { markdown_text: '**x**', text: 'x' }, 'invalid_arguments'],
    ['markdown_text with blocks', { markdown_text: '**x**', blocks: [section('x')] }, 'invalid_arguments'],
    ['markdown_text over 12,000', { markdown_text: 'x'.repeat(12_001) }, 'msg_too_long'],
    ['text over 40,000', { text: 'x'.repeat(40_001) }, 'msg_too_long'],
    ['no text at all', {}, 'no_text'],
    ['blocks that are not JSON', { blocks: '[{' }, 'invalid_blocks_format'],
    ['bad metadata', { text: 'x', metadata: { event_payload: {} } }, 'invalid_metadata_format'],
    ['an unknown thread', { text: 'x', thread_ts: '1.000001' }, 'thread_not_found']
  ]
  for (const [what, params, error] of cases) {
    const reply = await call(fake, 'chat.postMessage', { channel: fakeChannel, ...params })
    t.equal(reply.body.error, error, what)
  }
  t.equal(fake.messages.length, 0, 'nothing was recorded')
})

t.test('thread_ts must be a parent in the same channel', async t => {
  const fake = await FakeSlack.start({ rateLimit: false, channels: { [fakeChannel]: {}, C0OTHER: {} } })
  t.teardown(() => fake.close())
  const parent = await call(fake, 'chat.postMessage', { channel: fakeChannel, text: 'parent' })
  const reply = await call(fake, 'chat.postMessage', { channel: fakeChannel, text: 'reply', thread_ts: parent.body.ts })
  t.equal(reply.body.ok, true)
  const nested = await call(fake, 'chat.postMessage', {
    channel: fakeChannel,
    text: 'nested',
    thread_ts: reply.body.ts
  })
  t.equal(nested.body.error, 'invalid_thread_ts', "a reply's ts is no parent")
  const elsewhere = await call(fake, 'chat.postMessage', { channel: 'C0OTHER', text: 'x', thread_ts: parent.body.ts })
  t.equal(elsewhere.body.error, 'thread_not_found', 'a parent in another channel is no parent here')
})

t.test('tokens, channels and scopes', async t => {
  const fake = await FakeSlack.start({
    rateLimit: false,
    tokens: {
      [fakeToken]: {},
      'xoxb-revoked': { error: 'token_revoked' },
      'xoxb-readonly': { scopes: ['channels:read'] }
    },
    channels: {
      [fakeChannel]: {},
      C0ARCHIVED: { archived: true },
      C0OUTSIDE: { member: false },
      C0BROKEN: { error: 'restricted_action' }
    }
  })
  t.teardown(() => fake.close())
  const post = (channel: string, token?: string) => call(fake, 'chat.postMessage', { channel, text: 'x' }, { token })
  t.equal((await post(fakeChannel, 'xoxb-unknown')).body.error, 'invalid_auth')
  t.equal((await post(fakeChannel, 'xoxb-revoked')).body.error, 'token_revoked')
  const scoped = await post(fakeChannel, 'xoxb-readonly')
  t.match(scoped.body, { error: 'missing_scope', needed: 'chat:write' })
  t.equal((await post('C0NOWHERE')).body.error, 'channel_not_found')
  t.equal((await post('C0ARCHIVED')).body.error, 'is_archived')
  t.equal((await post('C0OUTSIDE')).body.error, 'not_in_channel')
  t.equal((await post('C0BROKEN')).body.error, 'restricted_action')
  t.equal((await call(fake, 'auth.test', {})).body.ok, true)
  t.match((await call(fake, 'conversations.info', { channel: 'C0ARCHIVED' })).body, {
    ok: true,
    channel: { is_archived: true }
  })
  t.equal((await call(fake, 'conversations.info', { channel: 'C0NOWHERE' })).body.error, 'channel_not_found')
})

t.test('paces each channel and answers 429 with Retry-After', async t => {
  const clock = new ManualClock(slackEpoch)
  const fake = await FakeSlack.start({
    now: clock.now,
    rateLimit: { intervalMs: 1000, burst: 2 },
    channels: { [fakeChannel]: {}, C0OTHER: {} }
  })
  t.teardown(() => fake.close())
  const post = (channel = fakeChannel) => call(fake, 'chat.postMessage', { channel, text: 'x' })
  t.equal((await post()).status, 200)
  t.equal((await post()).status, 200)
  const limited = await post()
  t.equal(limited.status, 429)
  t.equal(limited.retryAfter, '1')
  t.equal((await post('C0OTHER')).status, 200, 'other channels have their own allowance')
  clock.advance(1000)
  t.equal((await post()).status, 200, 'one more a second later')
  t.equal(fake.messages.length, 4)
})

t.test('injected failures', async t => {
  const fake = await FakeSlack.start({ rateLimit: false })
  t.teardown(() => fake.close())
  fake.failNext(1, 502)
  t.equal((await call(fake, 'auth.test', {})).status, 502)
  t.equal((await call(fake, 'auth.test', {})).status, 200)
  fake.rateLimitNext(1, 7)
  const limited = await call(fake, 'chat.postMessage', { channel: fakeChannel, text: 'x' })
  t.same([limited.status, limited.retryAfter], [429, '7'])
  fake.on('auth.test', () => ({ body: { ok: false, error: 'fatal_error' } }))
  t.equal((await call(fake, 'auth.test', {})).body.error, 'fatal_error')
  fake.on('auth.test', undefined)
  fake.failShare(1)
  t.equal((await call(fake, 'auth.test', {})).status, 503)
})
