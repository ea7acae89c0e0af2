import { systemClock } from '../../src/clock.js'
import { ManualClock } from '../helpers/clock.js'
import t from 'tap'
import plugin from '../../plugins/slack/index.js'
import type { SlackOptions } from '../../plugins/slack/options.js'
import { createSlackRelay } from '../../plugins/slack/relay.js'
import { slackEpoch, FakeSlack, fakeChannel, fakeToken, relayMessage, shownMarkdown } from '../fakes/slack.js'
import { memoryState } from '../helpers/memory-state.js'
import { deliveryContext, recordingLogger } from '../helpers/relay.js'
import { deliverOne } from '../../src/relays/run-adapter.js'

type Teardown = Pick<typeof t, 'teardown'>

/** A fake and relays sharing one hand-moved clock, so that Retry-After passes without sleeping. */
async function withClock(t: Teardown) {
  const clock = new ManualClock(slackEpoch)
  const fake = await FakeSlack.start({
    now: clock.now,
    rateLimit: false,
    channels: { [fakeChannel]: {}, C0SECOND: {} }
  })
  t.teardown(() => fake.close())
  const relayFor = (options: Partial<SlackOptions> = {}) =>
    createSlackRelay(
      { token: fakeToken, channel: fakeChannel, apiUrl: fake.apiUrl, ...options },
      { name: 'slack.test', logger: recordingLogger(), configDir: '.', clock }
    )
  return { clock, fake, relayFor }
}

t.test('a 429 comes back as retry with Retry-After, and a later attempt posts once', async t => {
  const { clock, fake, relayFor } = await withClock(t)
  const relay = relayFor()
  const state = memoryState()
  const message = relayMessage({ text: 'Hello after the limit' })
  // The thread's parent goes through; the answer itself meets the 429.
  let posts = 0
  fake.on('chat.postMessage', () =>
    ++posts === 2
      ? { status: 429, headers: { 'retry-after': '2' }, body: { ok: false, error: 'ratelimited' } }
      : undefined
  )
  const first = await deliverOne(relay, message, deliveryContext(state))
  t.same(first, {
    status: 'retry',
    error: `Slack rate limit on channel ${fakeChannel}: retry after 2 s`,
    retryAfterMs: 2000
  })

  const calls = fake.callsOf('chat.postMessage').length
  const early = await deliverOne(relay, message, deliveryContext(state))
  t.equal(early.status, 'retry', 'too early: still held')
  t.ok(early.status === 'retry' && early.retryAfterMs! > 0 && early.retryAfterMs! <= 2000, 'with the time left')
  t.equal(fake.callsOf('chat.postMessage').length, calls, 'and without calling Slack')

  clock.advance(2000)
  const later = await deliverOne(relay, message, deliveryContext(state))
  t.equal(later.status, 'delivered')
  t.equal(fake.parents().length, 1, 'one thread')
  t.same(fake.replies(fake.parents()[0]!.ts).map(shownMarkdown), ['Hello after the limit'], 'posted exactly once')
})

t.test('a 429 on the parent is retried too, without a second parent', async t => {
  const { clock, fake, relayFor } = await withClock(t)
  const relay = relayFor()
  const state = memoryState()
  const message = relayMessage({ text: 'x' })
  fake.rateLimitNext(1, 1)
  t.match(await deliverOne(relay, message, deliveryContext(state)), { status: 'retry', retryAfterMs: 1000 })
  clock.advance(1000)
  t.equal((await deliverOne(relay, message, deliveryContext(state))).status, 'delivered')
  t.equal(fake.parents().length, 1)
  t.equal(fake.messages.length, 2)
})

t.test('a held channel holds neither other channels nor other relays', async t => {
  const { fake, relayFor } = await withClock(t)
  const first = relayFor()
  const second = relayFor({ channel: 'C0SECOND' })
  fake.rateLimitNext(1, 30)
  t.equal((await deliverOne(first, relayMessage(), deliveryContext(memoryState()))).status, 'retry')
  const started = Date.now()
  t.equal((await deliverOne(second, relayMessage(), deliveryContext(memoryState()))).status, 'delivered')
  t.ok(Date.now() - started < 500, 'at once')
})

t.test('the pacer keeps a burst of posts under the channel limit', async t => {
  const { clock, fake, relayFor } = await withClock(t)
  fake.rateLimit = { intervalMs: 1000, burst: 1 }
  const relay = relayFor({ maxPartLength: 1000, pace: { intervalMs: 1000, burst: 1 } })
  const text = Array.from({ length: 4 }, (_, i) => `Part ${i} ` + 'word '.repeat(180).trim()).join('\n\n')
  const start = clock.now()
  const outcome = await deliverOne(relay, relayMessage({ text }), deliveryContext(memoryState()))
  t.equal(outcome.status, 'delivered')
  t.same(
    fake.callsOf('chat.postMessage').map(c => c.status),
    [200, 200, 200, 200, 200],
    'parent and four parts, no 429'
  )
  t.equal(clock.now() - start, 4000, 'one post per second')
})

t.test('without pacing the same burst meets the limit (the pacer is what keeps it under)', async t => {
  const { fake, relayFor } = await withClock(t)
  fake.rateLimit = { intervalMs: 1000, burst: 1 }
  const relay = relayFor({ maxPartLength: 1000, pace: { intervalMs: 0, burst: 1 } })
  const text = Array.from({ length: 4 }, (_, i) => `Part ${i} ` + 'word '.repeat(180).trim()).join('\n\n')
  const outcome = await deliverOne(relay, relayMessage({ text }), deliveryContext(memoryState()))
  t.match(outcome, { status: 'retry', retryAfterMs: 1000 })
})

t.test('real time: pacing with short windows, through the default export', async t => {
  // The fake allows twice the relay's pace: requests reach it with some jitter of their own.
  const fake = await FakeSlack.start({ rateLimit: { intervalMs: 20, burst: 1 } })
  t.teardown(() => fake.close())
  const relay = await plugin.create(
    {
      token: fakeToken,
      channel: fakeChannel,
      apiUrl: fake.apiUrl,
      maxPartLength: 1000,
      pace: { intervalMs: 40, burst: 1 }
    },
    { name: 'slack.test', logger: recordingLogger(), configDir: '.', clock: systemClock }
  )
  const text = Array.from({ length: 3 }, (_, i) => `Part ${i} ` + 'word '.repeat(180).trim()).join('\n\n')
  await relay.ready?.()
  const started = Date.now()
  t.equal((await deliverOne(relay, relayMessage({ text }), deliveryContext(memoryState()))).status, 'delivered')
  t.ok(Date.now() - started >= 110, 'paced: about 40 ms between posts')
  t.ok(
    fake.callsOf('chat.postMessage').every(c => c.status === 200),
    'no 429'
  )
})
