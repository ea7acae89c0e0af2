import { systemClock } from '../../src/clock.js'
import t from 'tap'
import plugin from '../../plugins/discord/index.js'
import { memoryState } from '../helpers/memory-state.js'
import { ChannelType, FakeDiscord } from '../fakes/discord.js'
import { deliveryContext, recordingLogger, relayMessage } from '../helpers/relay.js'
import { deliverOne } from '../../src/relays/run-adapter.js'

const fake = await new FakeDiscord({ bucketLimit: 3, bucketWindowMs: 120 }).start()
t.teardown(() => fake.close())

const relayFor = (channel: string, maxRateLimitWaitMs: number) =>
  plugin.create(
    { token: fake.token, channel, apiUrl: fake.api, maxRateLimitWaitMs },
    { name: 'discord.limits', logger: recordingLogger(), configDir: '.', clock: systemClock }
  )
const longText = (label: string) => Array.from({ length: 300 }, (_, i) => `${label} line ${i} of the answer`).join('\n')
const noDuplicates = (contents: (string | undefined)[]) => new Set(contents).size === contents.length

t.test('a short rate limit is waited out inside the delivery: every part once, in order', async t => {
  const channel = fake.addChannel(ChannelType.Text)
  const relay = await relayFor(channel.id, 2000)
  fake.rateLimitNext(1, { route: 'POST /channels/:id/messages', retryAfterMs: 100 })
  const started = Date.now()
  const outcome = await deliverOne(relay, relayMessage({ text: longText('waited') }), deliveryContext(memoryState()))
  t.equal(outcome.status, 'delivered')
  t.ok(
    fake.requests.some(r => r.status === 429),
    'a 429 was answered'
  )
  const contents = fake.messagesIn(fake.threadsOf(channel.id)[0]!.id).map(m => m.content)
  t.ok(contents.length >= 4, `${contents.length} parts (bucket of 3 per 120 ms, so the client also paced itself)`)
  t.ok(noDuplicates(contents), 'no part twice')
  t.ok(contents[contents.length - 1]!.endsWith('waited line 299 of the answer'), 'the last part came last')
  t.ok(Date.now() - started < 2000)
})

t.test(
  'a long rate limit ends the attempt as a retry after that time; the retry posts only what is missing',
  async t => {
    const channel = fake.addChannel(ChannelType.Text)
    // The client adds 50 ms twice to the fake's 120 ms windows: waits up to 220 ms are pacing, not trouble.
    const relay = await relayFor(channel.id, 300)
    const state = memoryState()
    t.equal(
      (await deliverOne(relay, relayMessage({ text: 'opens the thread' }), deliveryContext(state))).status,
      'delivered'
    )
    const thread = fake.threadsOf(channel.id)[0]!
    // Part 1 goes through; part 2 meets a 429 longer than the relay will wait.
    fake.rateLimitNext(1, { route: 'POST /channels/:id/messages', match: thread.id, skip: 1, retryAfterMs: 600 })
    const message = relayMessage({ text: longText('resumed') })
    const first = await deliverOne(relay, message, deliveryContext(state))
    t.equal(first.status, 'retry')
    if (first.status !== 'retry') return
    t.ok(first.retryAfterMs! >= 600 && first.retryAfterMs! < 1000, `retryAfterMs ${first.retryAfterMs}`)
    t.match(first.error, /rate limited/)
    const before = fake.messagesIn(thread.id).length
    t.equal(before, 2, 'the thread opener and part 1 were posted')
    await new Promise(resolve => setTimeout(resolve, first.retryAfterMs))
    const second = await deliverOne(relay, message, deliveryContext(state, { attempt: 2 }))
    t.equal(second.status, 'delivered', JSON.stringify(second))
    const contents = fake.messagesIn(thread.id).map(m => m.content)
    t.ok(noDuplicates(contents), 'no part posted twice across the two attempts')
    t.equal(
      fake.requests.filter(
        r => r.route === 'POST /channels/:id/messages' && r.path.includes(thread.id) && r.status === 200
      ).length,
      contents.length,
      'and none was even sent twice'
    )
    t.ok(contents.join('\n').includes('resumed line 0 of') && contents.join('\n').includes('resumed line 299 of'))
  }
)

t.test('a global rate limit beyond the wait becomes a retry too', async t => {
  const channel = fake.addChannel(ChannelType.Text)
  const relay = await relayFor(channel.id, 50)
  fake.rateLimitNext(1, { retryAfterMs: 250, global: true })
  const outcome = await deliverOne(relay, relayMessage({ text: 'hello' }), deliveryContext(memoryState()))
  t.match(outcome, { status: 'retry', error: /global/ })
})

t.test("a conversation waiting on its thread's limit does not hold up another thread", async t => {
  const channel = fake.addChannel(ChannelType.Text)
  const relay = await relayFor(channel.id, 2000)
  const slow = memoryState()
  const quick = memoryState()
  await deliverOne(relay, relayMessage({ conversationId: 'slow', text: 'opens slow' }), deliveryContext(slow))
  await deliverOne(relay, relayMessage({ conversationId: 'quick', text: 'opens quick' }), deliveryContext(quick))
  const slowThread = fake.threadsOf(channel.id).find(th => th.name.endsWith('slow'))!
  await new Promise(resolve => setTimeout(resolve, 130))
  fake.rateLimitNext(1, { match: slowThread.id, retryAfterMs: 600 })
  const finished: string[] = []
  const started = Date.now()
  const slowDone = deliverOne(
    relay,
    relayMessage({ conversationId: 'slow', text: 'slow two' }),
    deliveryContext(slow)
  ).then(o => {
    finished.push('slow')
    return o
  })
  await new Promise(resolve => setTimeout(resolve, 50))
  const quickOutcome = await deliverOne(
    relay,
    relayMessage({ conversationId: 'quick', text: 'quick two' }),
    deliveryContext(quick)
  )
  finished.push('quick')
  const quickMs = Date.now() - started
  t.equal(quickOutcome.status, 'delivered')
  t.equal((await slowDone).status, 'delivered')
  t.same(finished, ['quick', 'slow'])
  t.ok(quickMs < 400, `the other thread was served in ${quickMs} ms while the first waited 600 ms`)
})
