import t, { type Test } from 'tap'
import plugin from '../../plugins/slack/index.js'
import type { SlackOptions } from '../../plugins/slack/options.js'
import { systemClock } from '../../src/clock.js'
import type { RelayMessage } from '../../src/message.js'
import type { Relay } from '../../src/relays/types.js'
import { allScopes, FakeSlack, fakeChannel, fakeToken, relayMessage } from '../fakes/slack.js'
import { memoryState } from '../helpers/memory-state.js'
import { deliveryContext, recordingLogger } from '../helpers/relay.js'
import { asRunRelay } from '../../src/relays/run-adapter.js'

/*
 * A post that reached Slack but whose answer did not reach the relay (the process died, the
 * connection dropped) is found on Slack before it would be made again: the thread's parent in the
 * channel's history, a reply in the thread.
 */

const pace = { intervalMs: 1, burst: 50 }

async function setup(t: Test, options: Partial<SlackOptions> = {}, scopes = allScopes) {
  const fake = await FakeSlack.start({ rateLimit: false, tokens: { [fakeToken]: { scopes } } })
  t.teardown(() => fake.close())
  const logger = recordingLogger()
  const relay: Relay = await plugin.create(
    { token: fakeToken, channel: fakeChannel, apiUrl: fake.apiUrl, pace, ...options },
    { name: 'slack.test', logger, configDir: '.', clock: systemClock }
  )
  const state = memoryState()
  const run = (messages: RelayMessage[]) => asRunRelay(relay).deliverRun(messages, deliveryContext(state, { logger }))
  return { fake, logger, relay, state, run }
}

const readBacks = (fake: FakeSlack) =>
  fake.callsOf('conversations.history').length + fake.callsOf('conversations.replies').length

for (const threadStart of ['message', 'title'] as const) {
  t.test(
    `a new conversation whose post was lost keeps one thread and is not posted again (${threadStart})`,
    async t => {
      const { fake, run } = await setup(t, { threadStart })
      const ms = [1, 2, 3].map(n => relayMessage({ conversationId: 'c', text: `turn ${n}` }))
      // In "title" mode the title is the first post: lose the post that holds the messages too.
      fake.loseAnswers(threadStart === 'title' ? 2 : 1)
      const lost = await run(ms)
      t.equal(lost.delivered.length, 0, 'the relay did not learn that it posted')
      if (threadStart === 'title') {
        t.equal(lost.next?.status, 'retry')
        const again = await run(ms)
        t.equal(again.delivered.length, 0, 'the post holding the messages was lost too')
      }
      const postsBefore = fake.messages.length
      const later = relayMessage({ conversationId: 'c', text: 'turn 4' })
      const outcome = await run([...ms, later])
      t.equal(outcome.delivered.length, 3, 'the three messages the lost post held are delivered, the fourth is not')
      t.equal(fake.messages.length, postsBefore, 'nothing posted again')
      const last = await run([later])
      t.equal(last.delivered.length, 1)
      t.equal(fake.parents().length, 1, 'one thread')
      t.equal(fake.messages.length, postsBefore + 1, 'the fourth went into it')
      t.equal(fake.messages.at(-1)?.thread_ts, fake.parents()[0]?.ts)
    }
  )
}

t.test('a reply whose answer was lost is found in the thread, not posted again', async t => {
  const { fake, run } = await setup(t, { threadStart: 'message' })
  const first = relayMessage({ conversationId: 'c', text: 'hello' })
  t.equal((await run([first])).delivered.length, 1)
  const ms = [1, 2].map(n => relayMessage({ conversationId: 'c', text: `more ${n}` }))
  fake.loseAnswers(1)
  t.equal((await run(ms)).delivered.length, 0)
  const outcome = await run(ms)
  t.equal(outcome.delivered.length, 2, 'both messages of the lost combined post are delivered')
  t.equal(fake.messages.length, 2, 'a parent and one reply: no repeat')
  t.equal(fake.callsOf('conversations.replies').length, 1, 'the thread was read back once')
})

t.test("a long message's part whose answer was lost is not posted again", async t => {
  const { fake, run } = await setup(t, { threadStart: 'message', maxPartLength: 500 })
  const long = relayMessage({
    conversationId: 'c',
    text: Array.from({ length: 12 }, (_, i) => `Paragraph ${i} ${'word '.repeat(15)}`).join('\n\n')
  })
  fake.loseAnswers(1)
  await run([long])
  // The parent (part 0) went without its answer; then the second part's answer is lost too.
  fake.loseAnswers(1)
  await run([long])
  const outcome = await run([long])
  t.equal(outcome.delivered.length, 1)
  const parts = (outcome.delivered[0] as { parts: number }).parts
  t.ok(parts > 2, `the message took ${parts} posts`)
  t.equal(fake.messages.length, parts, 'each part posted once')
  t.equal(fake.parents().length, 1)
})

t.test('after a delivery whose answer came, Slack is not read back', async t => {
  const { fake, run } = await setup(t)
  for (let n = 0; n < 4; n++) await run([relayMessage({ conversationId: 'c' }), relayMessage({ conversationId: 'c' })])
  fake.failNext(1, 503)
  t.equal((await run([relayMessage({ conversationId: 'c' })])).delivered.length, 0)
  t.equal(readBacks(fake), 0, 'neither conversations.history nor conversations.replies')
})

t.test('a post Slack refused (an error, a 429) is not looked for: it did not go', async t => {
  for (const threadStart of ['message', 'title'] as const) {
    const { fake, run } = await setup(t, { threadStart })
    const m = relayMessage({ conversationId: 'c' })
    fake.rateLimitNext(1, 0)
    t.equal((await run([m])).delivered.length, 0, 'refused with a 429')
    t.equal((await run([m])).delivered.length, 1)
    const reply = relayMessage({ conversationId: 'c' })
    fake.rateLimitNext(1, 0)
    t.equal((await run([reply])).delivered.length, 0)
    t.equal((await run([reply])).delivered.length, 1)
    t.equal(readBacks(fake), 0, `${threadStart}: Slack was not read back`)
  }
})

t.test('without channels:history the post is made again, and the relay says why once', async t => {
  const scopes = allScopes.filter(s => !s.endsWith(':history'))
  const { fake, logger, run } = await setup(t, { threadStart: 'message' }, scopes)
  fake.loseAnswers(1)
  await run([relayMessage({ conversationId: 'c' })])
  const outcome = await run([relayMessage({ conversationId: 'c' })])
  t.equal(outcome.delivered.length, 1, 'the delivery goes on')
  fake.loseAnswers(1)
  await run([relayMessage({ conversationId: 'c' })])
  await run([relayMessage({ conversationId: 'c' })])
  const said = logger.warnings().filter(line => /channels:history/.test(line.msg ?? ''))
  t.equal(said.length, 1, 'one warning')
  t.match(said[0]?.msg, /posted again/)
  t.equal(fake.parents().length, 2, 'the lost parent was made again: the degraded case the warning names')
})
