import { systemClock } from '../../src/clock.js'
import t from 'tap'
import plugin from '../../plugins/slack/index.js'
import type { SlackOptions } from '../../plugins/slack/options.js'
import {
  FakeSlack,
  allScopes,
  fakeChannel,
  fakeToken,
  relayMessage,
  shownMarkdown,
  type FakeSlackOptions
} from '../fakes/slack.js'
import { memoryState } from '../helpers/memory-state.js'
import { deliveryContext, recordingLogger } from '../helpers/relay.js'
import { deliverOne } from '../../src/relays/run-adapter.js'

type Teardown = Pick<typeof t, 'teardown'>

async function setup(t: Teardown, fakeOptions: FakeSlackOptions = {}, options: Partial<SlackOptions> = {}) {
  const fake = await FakeSlack.start({ rateLimit: false, ...fakeOptions })
  t.teardown(() => fake.close())
  const logger = recordingLogger()
  const relay = await plugin.create(
    { token: fakeToken, channel: fakeChannel, apiUrl: fake.apiUrl, pace: { intervalMs: 0, burst: 1 }, ...options },
    { name: 'slack.support', logger, configDir: '.', clock: systemClock }
  )
  return { fake, logger, relay }
}

t.test('a 5xx asks for a retry, and the retry posts once', async t => {
  const { fake, relay } = await setup(t)
  const state = memoryState()
  const message = relayMessage({ text: 'survives a 502' })
  fake.failNext(1, 502)
  t.same(
    await deliverOne(relay, message, deliveryContext(state)),
    {
      status: 'retry',
      error: `Slack answered HTTP 502 at ${fake.apiUrl}`
    },
    'no retryAfterMs: the core picks its backoff'
  )
  t.equal((await deliverOne(relay, message, deliveryContext(state))).status, 'delivered')
  t.equal(fake.parents().length, 1)
  t.same(fake.replies(fake.parents()[0]!.ts).map(shownMarkdown), ['survives a 502'])
})

t.test('a dropped connection asks for a retry', async t => {
  const { fake, relay } = await setup(t)
  const state = memoryState()
  let drop = true
  fake.on('chat.postMessage', () => (drop ? ((drop = false), { destroy: true }) : undefined))
  const outcome = await deliverOne(relay, relayMessage(), deliveryContext(state))
  t.match(outcome, { status: 'retry', error: /could not reach Slack/ })
  t.equal((await deliverOne(relay, relayMessage(), deliveryContext(state))).status, 'delivered')
})

t.test("Slack's own hiccups (internal_error) ask for a retry", async t => {
  const { fake, relay } = await setup(t)
  fake.on('chat.postMessage', () => ({ body: { ok: false, error: 'internal_error' } }))
  t.match(await deliverOne(relay, relayMessage(), deliveryContext(memoryState())), {
    status: 'retry',
    error: /internal_error/
  })
})

t.test('under 30% random 5xx, retried messages all arrive once and in order', async t => {
  const { fake, relay } = await setup(t)
  let seed = 42
  fake.failShare(0.3, () => (seed = (seed * 16807) % 2147483647) / 2147483647)
  const state = memoryState()
  const texts = Array.from({ length: 12 }, (_, i) => `message ${i}`)
  for (const text of texts) {
    const message = relayMessage({ conversationId: 'chaos', text })
    let outcome = await deliverOne(relay, message, deliveryContext(state))
    for (let attempt = 2; outcome.status === 'retry' && attempt < 30; attempt++) {
      outcome = await deliverOne(relay, message, { ...deliveryContext(state), attempt })
    }
    t.equal(outcome.status, 'delivered', text)
  }
  t.ok(
    fake.calls.some(c => c.status === 503),
    'failures were injected'
  )
  t.equal(fake.parents().length, 1)
  t.same(fake.replies(fake.parents()[0]!.ts).map(shownMarkdown), texts)
})

const permanent: [string, FakeSlackOptions, Partial<SlackOptions>, RegExp][] = [
  ['channel_not_found', {}, { channel: 'C0NOSUCH' }, /channel C0NOSUCH was not found: set "channel" to a channel ID/],
  [
    'not_in_channel',
    { channels: { [fakeChannel]: { member: false } } },
    {},
    /not a member of channel C0123456: invite it/
  ],
  [
    'is_archived',
    { channels: { [fakeChannel]: { archived: true } } },
    {},
    /channel C0123456 is archived: unarchive it/
  ],
  [
    'missing_scope',
    { tokens: { [fakeToken]: { scopes: ['channels:read'] } } },
    {},
    /lacks the scope chat:write: add it/
  ]
]

for (const [code, fakeOptions, options, reason] of permanent) {
  t.test(`${code} fails the delivery with what to do, logged once`, async t => {
    const { logger, relay } = await setup(t, fakeOptions, options)
    for (let i = 0; i < 3; i++) {
      const outcome = await deliverOne(relay, relayMessage({ conversationId: `c${i}` }), deliveryContext(memoryState()))
      t.equal(outcome.status, 'failed', `message ${i} failed`)
      t.match(outcome.status === 'failed' && outcome.error, reason)
      t.match(outcome.status === 'failed' && outcome.error, `(Slack error ${code})`)
    }
    const errors = logger.errors()
    t.equal(errors.length, 1, 'one loud log line for three messages')
    t.match(errors[0], { obj: { slackError: code }, msg: /^Slack relay slack\.support: / })
    t.notOk('relay' in (errors[0]!.obj as object), 'the logger is bound to the relay already')
  })
}

// The token itself is refused: every message would fail alike, so none is failed; the core holds them all.
const credentials: [string, FakeSlackOptions, Partial<SlackOptions>, RegExp][] = [
  ['invalid_auth', {}, { token: 'xoxb-wrong' }, /rejected the token: check "token"/],
  [
    'account_inactive',
    { tokens: { [fakeToken]: { error: 'account_inactive' } } },
    {},
    /deactivated user or workspace: reinstall/
  ],
  [
    'token_revoked',
    { tokens: { [fakeToken]: { error: 'token_revoked' } } },
    {},
    /token was revoked .*reinstall the app/
  ],
  ['token_expired', { tokens: { [fakeToken]: { error: 'token_expired' } } }, {}, /the Slack token expired/]
]

for (const [code, fakeOptions, options, reason] of credentials) {
  t.test(`${code} holds the delivery with what to do, and leaves the saying to the core`, async t => {
    const { logger, relay } = await setup(t, fakeOptions, options)
    const outcome = await deliverOne(relay, relayMessage(), deliveryContext(memoryState()))
    t.equal(outcome.status, 'held')
    t.match(outcome.status === 'held' && outcome.error, reason)
    t.match(outcome.status === 'held' && outcome.error, `(Slack error ${code})`)
    t.same(logger.errors(), [], 'the dispatcher logs the hold, once for the relay')
  })
}

t.test('each distinct error is logged once, and again after it was fixed and came back', async t => {
  const { fake, logger, relay } = await setup(t)
  const send = () =>
    deliverOne(relay, relayMessage({ conversationId: String(Math.random()) }), deliveryContext(memoryState()))
  fake.channels[fakeChannel] = { archived: true }
  await send()
  await send()
  fake.channels[fakeChannel] = { member: false }
  await send()
  await send()
  t.same(
    logger.errors().map(e => (e.obj as { slackError: string }).slackError),
    ['is_archived', 'not_in_channel']
  )
  fake.channels[fakeChannel] = {}
  t.equal((await send()).status, 'delivered')
  fake.channels[fakeChannel] = { archived: true }
  await send()
  t.equal(logger.errors().length, 3, 'reported again once it returned')
})

t.test('a rejected message is failed as a relay bug, not retried forever', async t => {
  const { fake, relay } = await setup(t)
  fake.on('chat.postMessage', () => ({
    body: { ok: false, error: 'invalid_blocks', response_metadata: { messages: ['[ERROR] bad'] } }
  }))
  const outcome = await deliverOne(relay, relayMessage(), deliveryContext(memoryState()))
  t.match(outcome, { status: 'failed', error: /invalid_blocks \(\[ERROR\] bad\): a bug in the Slack relay/ })
})

t.test('an unexpected answer throws, keeping the cause', async t => {
  const { fake, relay } = await setup(t)
  fake.on('chat.postMessage', () => ({ body: { ok: true } }))
  const error = await deliverOne(relay, relayMessage(), deliveryContext(memoryState())).then(
    () => undefined,
    (e: unknown) => e
  )
  t.type(error, Error)
  t.match((error as Error).message, /^Slack relay slack\.support: /)
  t.match(((error as Error).cause as Error).message, /returned no ts/)
})

t.test('an aborted delivery posts nothing and asks for a retry', async t => {
  const { fake, relay } = await setup(t)
  const abort = new AbortController()
  abort.abort()
  const outcome = await deliverOne(relay, relayMessage(), deliveryContext(memoryState(), { signal: abort.signal }))
  t.match(outcome, { status: 'retry', error: /aborted/ })
  t.equal(fake.messages.length, 0)
})

t.test('a closed relay posts nothing', async t => {
  const { fake, relay } = await setup(t)
  await relay.close?.()
  t.equal((await deliverOne(relay, relayMessage(), deliveryContext(memoryState()))).status, 'retry')
  t.equal(fake.messages.length, 0)
})

t.test('customize without chat:write.customize still posts (Slack ignores the name)', async t => {
  const { fake, relay } = await setup(
    t,
    { tokens: { [fakeToken]: { scopes: allScopes.filter(s => s !== 'chat:write.customize') } } },
    { customize: true }
  )
  t.equal((await deliverOne(relay, relayMessage(), deliveryContext(memoryState()))).status, 'delivered')
  t.equal(fake.messages.at(-1)?.username, undefined)
})
