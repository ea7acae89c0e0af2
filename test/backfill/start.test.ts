import t, { type Test } from 'tap'
import { FakeGptbots, fakeApiKey } from '../fakes/gptbots.js'
import { testApp, post } from '../helpers/app.js'
import { ManualClock } from '../helpers/clock.js'
import { FakeRelay } from '../helpers/fake-relay.js'

const HOUR = 3_600_000
const ADMIN = 'admin-token-0123456789'

async function setup(t: Test, config: Record<string, unknown> = {}, env = { GPTBOTS_API_KEY: fakeApiKey }) {
  const gptbots = await FakeGptbots.start()
  t.teardown(() => gptbots.close())
  const clock = new ManualClock(Date.UTC(2026, 4, 1, 12))
  const relay = new FakeRelay()
  const app = await testApp(t, {
    clock,
    env,
    relays: new Map([['out', relay]]),
    config: { gptbots: { apiUrl: gptbots.apiUrl }, admin: { token: ADMIN }, ...config }
  })
  return { gptbots, clock, relay, app }
}

t.test('at start, what GPTBots sent that never came by webhook is taken in and relayed once, in order', async t => {
  const { gptbots, clock, relay, app } = await setup(t)
  // c-1 is known: its first answer came by webhook. c-2 never reached the relay.
  gptbots.addConversation('c-1', 6, clock.now() - 2 * HOUR)
  gptbots.addConversation('c-2', 4, clock.now() - HOUR)
  // Older than the horizon (24 h): not read back.
  gptbots.addConversation('c-old', 2, clock.now() - 30 * HOUR)
  const first = gptbots.conversations.get('c-1')!.messages[1]!
  t.equal(
    (
      await post(app, {
        message_id: first.message_id,
        message_type: 'ANSWER',
        text: 'answer 2 of c-1',
        create_time: Math.floor(first.create_time / 1000),
        conversation_id: 'c-1'
      })
    ).statusCode,
    200
  )
  await app.relay.dispatcher.drain()
  t.same(relay.idsOf('c-1'), ['c-1-m2'])

  const job = await app.backfill.automatic('start')
  t.ok(job, 'the start backfill ran')
  t.match(job, {
    trigger: 'start',
    status: 'done',
    sources: ['default'],
    figures: { conversations: 2, found: 5, takenIn: 4, alreadyThere: 1, skipped: 5 }
  })
  t.equal(job!.figures.calls, 3, 'one list page and one messages page per conversation')
  await app.relay.dispatcher.drain()
  t.same(relay.idsOf('c-1'), ['c-1-m2', 'c-1-m4', 'c-1-m6'], 'the webhook message is not posted again')
  t.same(relay.idsOf('c-2'), ['c-2-m2', 'c-2-m4'], 'a conversation never seen, in creation order')
  const recovered = relay.delivered.find(m => m.messageId === 'c-2-m2')!
  t.match(recovered, {
    format: 'api',
    type: 'ANSWER',
    source: 'default',
    createdAt: clock.now() - HOUR + 1000,
    flowOutput: [{ content: 'answer 2 of c-2' }]
  })
  t.type(recovered.recoveredAt, 'number', 'marked as recovered, with createdAt the time it was sent')
  t.notOk(relay.delivered.some(m => m.conversationId === 'c-old'))

  // The record is in the store, and a second run finds the time covered.
  const stored = await app.inject({
    method: 'GET',
    url: `/admin/backfill/${job!.id}`,
    headers: { authorization: `Bearer ${ADMIN}` }
  })
  t.equal(stored.statusCode, 200)
  t.match(stored.json(), { id: job!.id, status: 'done', figures: { takenIn: 4, alreadyThere: 1 } })
  t.equal(await app.backfill.automatic('start'), undefined, 'nothing left to read')
  const calls = gptbots.requests.length
  clock.advance(HOUR)
  const again = await app.backfill.automatic('schedule')
  t.match(again?.figures, { takenIn: 0 })
  t.ok(gptbots.requests.length > calls)
})

t.test(
  'without a key, the start leaves the source out; asked for, it fails naming the source; the relay goes on',
  async t => {
    const { app, clock } = await setup(t, {}, {} as { GPTBOTS_API_KEY: string })
    t.equal(await app.backfill.automatic('start'), undefined, 'no backfill at start: nothing to read with')
    const asked = await app.backfill.start({ since: clock.now() - HOUR })
    let job = asked
    for (let i = 0; i < 200 && job.status === 'running'; i++) {
      await new Promise(resolve => setTimeout(resolve, 10))
      job = (await app.backfill.job(asked.id))!
    }
    t.match(job, { status: 'failed' })
    t.match(
      job.problems.join('\n'),
      /API key of source "default" is missing: set the environment variable GPTBOTS_API_KEY/
    )
    t.equal(
      (await post(app, { message_id: 'x', message_type: 'ANSWER', text: 'hi', create_time: 1, conversation_id: 'c' }))
        .statusCode,
      200
    )
  }
)

t.test('a key GPTBots refuses (40127) fails the backfill with its reason; nothing is taken in', async t => {
  const { app, gptbots, clock } = await setup(t, {}, { GPTBOTS_API_KEY: 'app-not-the-key' })
  gptbots.addConversation('c-1', 2, clock.now() - HOUR)
  const job = await app.backfill.automatic('start')
  t.match(job, { status: 'failed', figures: { takenIn: 0 } })
  t.match(job!.problems[0], /source "default".*HTTP 401 code 40127/)
})

t.test('429 with Retry-After and 5xx on the way are retried; every message arrives', async t => {
  const { app, gptbots, clock, relay } = await setup(t)
  for (let i = 0; i < 3; i++) gptbots.addConversation(`c-${i}`, 250, clock.now() - 5 * HOUR + i)
  gptbots.fail({ status: 429, retryAfter: '3' }, { status: 503 }, { status: 429, retryAfter: '1' })
  const job = await app.backfill.automatic('start')
  t.match(job, { status: 'done', figures: { conversations: 3, found: 375, takenIn: 375 } })
  t.equal(gptbots.requests.filter(r => r.status === 200).length, 1 + 3 * 3, 'messages read in pages of 100')
  await app.relay.dispatcher.drain()
  t.equal(relay.delivered.length, 375)
  t.same(relay.idsOf('c-0').slice(0, 3), ['c-0-m2', 'c-0-m4', 'c-0-m6'])
})
