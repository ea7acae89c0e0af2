import t from 'tap'
import { ManualClock } from '../helpers/clock.js'
import { FakeRelay } from '../helpers/fake-relay.js'
import { TOKEN, post, seed, testApp } from '../helpers/app.js'

const ADMIN = 'admin-token-0123456789'
const headers = { authorization: `Bearer ${ADMIN}` }

t.test('GET /admin/backlog: pending, dead and the lag of each relay', async t => {
  const clock = new ManualClock()
  const flaky = new FakeRelay(m =>
    m.messageId === 'm2' ? { status: 'failed', error: 'channel_not_found' } : { status: 'retry', error: 'HTTP 503' }
  )
  const app = await testApp(t, {
    relays: new Map([
      ['flaky', flaky],
      ['fine', new FakeRelay()]
    ]),
    clock,
    config: { admin: { token: ADMIN }, auth: { tokens: [TOKEN] } }
  })
  const backlog = async () => {
    const res = await app.inject({ method: 'GET', url: '/admin/backlog', headers })
    t.equal(res.statusCode, 200, res.body)
    return res.json()
  }
  t.strictSame(await backlog(), {
    relays: [
      { relay: 'fine', configured: true, pending: 0, dead: 0, lagMs: 0 },
      { relay: 'flaky', configured: true, pending: 0, dead: 0, lagMs: 0 }
    ]
  })

  const start = clock.now()
  await post(app, seed({ message_id: 'm1', conversation_id: 'c1' }))
  clock.advance(2000)
  await post(app, seed({ message_id: 'm2', conversation_id: 'c2' }))
  clock.advance(3000)
  await app.relay.dispatcher.drain()
  t.strictSame(
    await backlog(),
    {
      relays: [
        { relay: 'fine', configured: true, pending: 0, dead: 0, lagMs: 0 },
        { relay: 'flaky', configured: true, pending: 1, dead: 1, oldestPendingAt: start, lagMs: 5000 }
      ]
    },
    'm1 waits for a retry since it was received; m2 is dead'
  )
  clock.advance(1500)
  t.equal((await backlog()).relays[1].lagMs, 6500, 'the lag grows while it waits')

  const refused = await app.inject({ method: 'GET', url: '/admin/backlog' })
  t.equal(refused.statusCode, 401, 'needs the admin token')
  t.equal(refused.json().code, 401)
})
