import t from 'tap'
import type { DeliveryOutcome } from '../../src/relays/types.js'
import { ManualClock } from '../helpers/clock.js'
import { FakeRelay } from '../helpers/fake-relay.js'
import { post, seed, testApp } from '../helpers/app.js'
import { postgresOrSkip } from '../helpers/postgres.js'

// A delivery's story: the store keeps every attempt (when, outcome, the platform's answer or
// error, what was posted) and every replay, on both stores, shown scrubbed by the admin API, and
// pruned with its delivery.

const ADMIN = 'admin-token-0123456789'
const SECRET = 'xoxb-1234567890-abcdefghijkl'

async function story(t: Parameters<typeof testApp>[0], store?: Record<string, unknown>) {
  const clock = new ManualClock()
  const answers: DeliveryOutcome[] = [
    { status: 'retry', error: `HTTP 503 (Authorization: Bearer ${SECRET})` },
    { status: 'failed', error: 'channel_not_found' },
    { status: 'delivered', posted: { channel: 'C1', ts: '1.2', link: 'https://example.slack.com/p12' } }
  ]
  const relay = new FakeRelay(() => answers.shift() ?? { status: 'delivered' })
  const app = await testApp(t, {
    clock,
    relays: new Map([['fake', relay]]),
    config: { admin: { token: ADMIN }, ...(store ? { store } : {}) }
  })
  const admin = (method: 'GET' | 'POST', url: string) =>
    app.inject({ method, url, headers: { authorization: `Bearer ${ADMIN}` } })
  t.equal((await post(app, seed({ message_id: 'm1', conversation_id: 'c' }))).statusCode, 200)
  await app.relay.dispatcher.drain()
  clock.advance(60_000)
  await app.relay.dispatcher.drain()
  const [dead] = await app.relay.store.listDeliveries({ status: 'dead', limit: 1 })
  t.ok(dead, 'dead after a retry and a refusal')
  clock.advance(1000)
  t.equal((await admin('POST', `/admin/dead-letters/${dead!.id}/replay`)).statusCode, 200)
  await app.relay.dispatcher.drain()

  const res = await admin('GET', '/admin/conversations/default/c/messages')
  t.equal(res.statusCode, 200)
  t.notMatch(res.body, SECRET, 'the error quoting a token is scrubbed')
  const [delivery] = res.json().messages[0].deliveries
  t.equal(delivery.status, 'delivered')
  t.match(delivery.history, [
    { attempt: 1, outcome: 'retry', error: /^HTTP 503 \(Authorization: Bearer \[redacted\]\)$/ },
    { attempt: 2, outcome: 'dead', error: 'channel_not_found' },
    { attempt: 0, outcome: 'replayed' },
    { attempt: 1, outcome: 'delivered', posted: { link: 'https://example.slack.com/p12' } }
  ])
  t.equal(delivery.history.length, 4, 'one row per attempt and replay')
  const at = delivery.history.map((a: { at: number }) => a.at)
  t.ok(at[1] - at[0] >= 60_000 && at[3] > at[1], `each at its own time (${at.join(', ')})`)
  t.notOk('error' in delivery.history[3], 'the delivered attempt carries no stale error')

  // Retention prunes the delivered conversation; its attempts go with it.
  clock.advance(400 * 86_400_000)
  await app.relay.store.prune(clock.now())
  t.same(await app.relay.store.listAttempts([delivery.id]), [], 'pruned with its delivery')
}

t.test('on SQLite', async t => story(t))

t.test('on PostgreSQL', async t => {
  const db = await postgresOrSkip(t)
  if (!db) return
  await story(t, { driver: 'postgres', url: db.url, schema: await db.schema(t) })
})
