import t, { type Test } from 'tap'
import { ManualClock } from '../helpers/clock.js'
import { FakeRelay } from '../helpers/fake-relay.js'
import { post, seed, testApp } from '../helpers/app.js'

const ADMIN = 'admin-token-0123456789'
const headers = { authorization: `Bearer ${ADMIN}` }

/** `main` gets every message by route; `late` is configured but no route reaches it, as if just added. */
async function setup(t: Test, failMain: (id: string) => boolean = () => false) {
  const main = new FakeRelay(m =>
    failMain(m.messageId)
      ? { status: 'failed', error: 'HTTP 404' }
      : { status: 'delivered', posted: { id: `p-${m.messageId}` } }
  )
  const late = new FakeRelay()
  const clock = new ManualClock(1_700_000_000_000)
  const app = await testApp(t, {
    relays: new Map([
      ['main', main],
      ['late', late]
    ]),
    clock,
    config: { admin: { token: ADMIN }, routes: [{ to: ['main'] }] }
  })
  const admin = (method: 'GET' | 'POST', url: string, payload?: object) =>
    app.inject({
      method,
      url,
      headers: payload ? { ...headers, 'content-type': 'application/json' } : headers,
      payload: payload ? JSON.stringify(payload) : undefined
    })
  const send = async (messageId: string, conversationId: string) => {
    const res = await post(
      app,
      seed({ message_id: messageId, conversation_id: conversationId, text: `text of ${messageId}` })
    )
    t.equal(res.statusCode, 200, res.body)
    clock.advance(1000)
  }
  return { app, main, late, clock, admin, send }
}

t.test('conversations: most recently active first, with counts per destination and status, paged', async t => {
  const { app, admin, send } = await setup(t, id => id === 'b2')
  await send('a1', 'a')
  await send('b1', 'b')
  await send('b2', 'b')
  await send('c1', 'c')
  await app.relay.dispatcher.drain()

  const res = await admin('GET', '/admin/conversations')
  t.equal(res.statusCode, 200, res.body)
  const { conversations, next } = res.json()
  t.equal(next, undefined)
  t.same(
    conversations.map((c: any) => c.conversationId),
    ['c', 'b', 'a']
  )
  t.match(conversations[1], {
    source: 'default',
    conversationId: 'b',
    messages: 2,
    firstReceivedAt: 1_700_000_001_000,
    lastReceivedAt: 1_700_000_002_000,
    destinations: [{ relay: 'main', pending: 0, delivered: 1, dead: 1 }]
  })
  t.equal(conversations[1].destinations.length, 1, 'no lane for late yet')

  const page1 = (await admin('GET', '/admin/conversations?limit=2')).json()
  t.same(
    page1.conversations.map((c: any) => c.conversationId),
    ['c', 'b']
  )
  t.type(page1.next, 'string')
  const page2 = (await admin('GET', `/admin/conversations?limit=2&after=${encodeURIComponent(page1.next)}`)).json()
  t.same(
    page2.conversations.map((c: any) => c.conversationId),
    ['a']
  )
  t.equal(page2.next, undefined)
  t.same((await admin('GET', '/admin/conversations?source=other')).json(), { conversations: [] })
  const forged = await admin('GET', '/admin/conversations?after=1700000002000')
  t.equal(forged.statusCode, 400, 'a cursor the API did not give out')
  t.match(forged.json(), { code: 400, msg: /query\/after is not a cursor/ })
})

t.test('messages of a conversation in order, each with its deliveries', async t => {
  const { app, admin, send } = await setup(t, id => id === 'm2')
  await send('m1', 'c')
  await send('m2', 'c')
  await send('m3', 'c')
  await send('x', 'other')
  await app.relay.dispatcher.drain()

  const res = await admin('GET', '/admin/conversations/default/c/messages')
  t.equal(res.statusCode, 200, res.body)
  const body = res.json()
  t.match(body, { source: 'default', conversationId: 'c' })
  t.same(
    body.messages.map((m: any) => m.message.messageId),
    ['m1', 'm2', 'm3']
  )
  t.match(body.messages[0], {
    seq: Number,
    message: { text: 'text of m1', type: 'ANSWER', conversationId: 'c', source: 'default' },
    deliveries: [
      { relay: 'main', status: 'delivered', attempts: 1, posted: { id: 'p-m1' }, createdAt: Number, updatedAt: Number }
    ]
  })
  t.match(body.messages[1].deliveries, [{ relay: 'main', status: 'dead', attempts: 1, lastError: 'HTTP 404' }])
  t.equal(body.messages[1].deliveries[0].posted, undefined)
  t.same(
    Object.keys(body.messages[0].deliveries[0]).sort(),
    ['attempts', 'createdAt', 'history', 'id', 'posted', 'relay', 'status', 'updatedAt'],
    'a delivery under its message leaves out what the message says'
  )

  const page1 = (await admin('GET', '/admin/conversations/default/c/messages?limit=2')).json()
  t.same(
    page1.messages.map((m: any) => m.message.messageId),
    ['m1', 'm2']
  )
  const page2 = (await admin('GET', `/admin/conversations/default/c/messages?limit=2&afterSeq=${page1.next}`)).json()
  t.same(
    page2.messages.map((m: any) => m.message.messageId),
    ['m3']
  )
  t.equal(page2.next, undefined)

  const missing = await admin('GET', '/admin/conversations/default/nope/messages')
  t.equal(missing.statusCode, 404)
  t.equal(missing.headers['x-relay-error'], 'NOT_FOUND')
  t.same(missing.json(), { code: 404, msg: 'no conversation "nope" from source "default" is stored' })
})

t.test('conversation replay queues the whole conversation, in order, into a newly added relay', async t => {
  const { app, main, late, admin, send } = await setup(t)
  for (const id of ['m1', 'm2', 'm3']) await send(id, 'c')
  await send('x1', 'other')
  await app.relay.dispatcher.drain()
  t.same(late.delivered, [])

  const res = await admin('POST', '/admin/conversations/default/c/replay', { relay: 'late' })
  t.equal(res.statusCode, 200, res.body)
  t.same(res.json(), { queued: 3 })
  await send('m4', 'c')
  await app.relay.dispatcher.drain()
  t.same(late.idsOf('c'), ['m1', 'm2', 'm3'], 'in order; later messages follow the routes, which do not reach late')
  t.same(late.idsOf('other'), [], 'only that conversation')
  t.same(main.idsOf('c'), ['m1', 'm2', 'm3', 'm4'])

  // Replaying into a relay that already has it appends: delivery is at least once.
  t.same((await admin('POST', '/admin/conversations/default/c/replay', { relay: 'main' })).json(), { queued: 4 })
  await app.relay.dispatcher.drain()
  t.same(main.idsOf('c'), ['m1', 'm2', 'm3', 'm4', 'm1', 'm2', 'm3', 'm4'])

  const summary = (await admin('GET', '/admin/conversations'))
    .json()
    .conversations.find((c: any) => c.conversationId === 'c')
  t.same(summary.destinations.map((d: any) => [d.relay, d.delivered]).sort(), [
    ['late', 3],
    ['main', 8]
  ])
})

t.test('conversation replay: unknown relay or conversation is NOT_FOUND and queues nothing', async t => {
  const { app, admin, send } = await setup(t)
  await send('m1', 'c')
  await app.relay.dispatcher.drain()
  const ghost = await admin('POST', '/admin/conversations/default/c/replay', { relay: 'ghost' })
  t.equal(ghost.statusCode, 404)
  t.equal(ghost.headers['x-relay-error'], 'NOT_FOUND')
  t.equal(
    ghost.json().msg,
    'no relay named "ghost" is configured (configured: "main", "late"); cannot replay conversation "c" into it'
  )
  const nope = await admin('POST', '/admin/conversations/default/nope/replay', { relay: 'late' })
  t.equal(nope.statusCode, 404)
  t.equal(nope.json().msg, 'no conversation "nope" from source "default" is stored')
  t.same(await app.relay.store.pendingByRelay(), {})
})
