import t, { type Test } from 'tap'
import { ManualClock } from '../helpers/clock.js'
import { FakeRelay } from '../helpers/fake-relay.js'
import { TOKEN, post, seed, testApp } from '../helpers/app.js'

const ADMIN = 'admin-token-0123456789'
const headers = { authorization: `Bearer ${ADMIN}` }

/** Two relays: `flaky` fails for good while `down` is true, `steady` always delivers. */
async function setup(t: Test) {
  const state = { down: true }
  const flaky = new FakeRelay(() =>
    state.down ? { status: 'failed', error: 'channel_not_found' } : { status: 'delivered', posted: { ts: '1.0' } }
  )
  const steady = new FakeRelay()
  const clock = new ManualClock()
  const app = await testApp(t, {
    relays: new Map([
      ['flaky', flaky],
      ['steady', steady]
    ]),
    clock,
    config: { admin: { token: ADMIN }, auth: { tokens: [TOKEN], sources: { other: { tokens: [TOKEN] } } } }
  })
  const admin = (method: 'GET' | 'POST' | 'DELETE', url: string, payload?: object) =>
    app.inject({
      method,
      url,
      headers: payload ? { ...headers, 'content-type': 'application/json' } : headers,
      payload: payload ? JSON.stringify(payload) : undefined
    })
  const send = async (messageId: string, conversationId = 'c1', url = '/webhook') => {
    const res = await post(
      app,
      seed({ message_id: messageId, conversation_id: conversationId, text: messageId }),
      {},
      url
    )
    t.equal(res.statusCode, 200, res.body)
  }
  return { app, flaky, steady, state, admin, send }
}

t.test('dead letters are listed with their last error, filtered and paged', async t => {
  const { app, admin, send } = await setup(t)
  await send('m1', 'c1')
  await send('m2', 'c2')
  await app.relay.dispatcher.drain()

  const all = await admin('GET', '/admin/dead-letters')
  t.equal(all.statusCode, 200, all.body)
  const { deadLetters, next } = all.json()
  t.equal(next, undefined, 'one page')
  t.same(
    deadLetters.map((d: any) => [d.relay, d.conversationId, d.messageId]),
    [
      ['flaky', 'c1', 'm1'],
      ['flaky', 'c2', 'm2']
    ]
  )
  t.match(deadLetters[0], {
    status: 'dead',
    attempts: 1,
    lastError: 'channel_not_found',
    source: 'default',
    type: 'ANSWER',
    seq: Number,
    createdAt: Number,
    updatedAt: Number
  })

  t.same((await admin('GET', '/admin/dead-letters?relay=steady')).json().deadLetters, [])
  t.same(
    (await admin('GET', '/admin/dead-letters?conversationId=c2')).json().deadLetters.map((d: any) => d.messageId),
    ['m2']
  )
  t.same((await admin('GET', '/admin/dead-letters?source=other')).json().deadLetters, [])

  const first = (await admin('GET', '/admin/dead-letters?limit=1')).json()
  t.same(
    first.deadLetters.map((d: any) => d.messageId),
    ['m1']
  )
  t.equal(first.next, first.deadLetters[0].id)
  const second = (await admin('GET', `/admin/dead-letters?limit=1&afterId=${first.next}`)).json()
  t.same(
    second.deadLetters.map((d: any) => d.messageId),
    ['m2']
  )
  const third = (await admin('GET', `/admin/dead-letters?limit=1&afterId=${second.next}`)).json()
  t.same(third, { deadLetters: [] })
})

t.test('a replayed dead letter keeps its place: it goes out before later messages of its lane', async t => {
  const { app, flaky, steady, state, admin, send } = await setup(t)
  await send('m1')
  await app.relay.dispatcher.drain()
  t.same(flaky.idsOf('c1'), [])
  t.same(steady.idsOf('c1'), ['m1'])
  const [dead] = (await admin('GET', '/admin/dead-letters')).json().deadLetters
  t.equal(dead.messageId, 'm1')

  // The platform is fixed; more messages arrive before anyone replays m1.
  state.down = false
  await send('m2')
  await send('m3')
  const replay = await admin('POST', `/admin/dead-letters/${dead.id}/replay`)
  t.equal(replay.statusCode, 200, replay.body)
  t.same(replay.json(), { replayed: 1 })
  await app.relay.dispatcher.drain()
  t.same(flaky.idsOf('c1'), ['m1', 'm2', 'm3'], 'm1 first, then the rest in order')
  t.same(steady.idsOf('c1'), ['m1', 'm2', 'm3'], 'the other relay got each once')
  t.same((await admin('GET', '/admin/dead-letters')).json().deadLetters, [])

  const again = await admin('POST', `/admin/dead-letters/${dead.id}/replay`)
  t.equal(again.statusCode, 409, 'delivered now, so not a dead letter')
  t.equal(again.headers['x-relay-error'], 'CONFLICT')
  t.match(again.json().msg, `delivery ${dead.id} is delivered, not dead`)
})

t.test('replay wakes the background dispatcher at once', async t => {
  const { app, flaky, state, admin, send } = await setup(t)
  await send('m1')
  await app.relay.dispatcher.drain()
  state.down = false
  // Started now, with the default poll interval of 1s; notify() must not wait for it.
  app.relay.dispatcher.start()
  const [dead] = (await admin('GET', '/admin/dead-letters')).json().deadLetters
  t.equal((await admin('POST', `/admin/dead-letters/${dead.id}/replay`)).statusCode, 200)
  const deadline = Date.now() + 900
  while (flaky.idsOf('c1').length === 0 && Date.now() < deadline) await new Promise(r => setTimeout(r, 10))
  t.same(flaky.idsOf('c1'), ['m1'])
})

t.test('replay all dead letters of a relay, or of one conversation', async t => {
  const { app, flaky, state, admin, send } = await setup(t)
  await send('a1', 'a')
  await send('b1', 'b')
  await send('b2', 'b')
  await send('x1', 'a', '/webhook/other')
  await app.relay.dispatcher.drain()
  t.equal((await admin('GET', '/admin/dead-letters')).json().deadLetters.length, 4)
  state.down = false

  const one = await admin('POST', '/admin/dead-letters/replay', {
    relay: 'flaky',
    source: 'default',
    conversationId: 'b'
  })
  t.same(one.json(), { replayed: 2 })
  await app.relay.dispatcher.drain()
  t.same(flaky.idsOf('b'), ['b1', 'b2'])
  t.same(flaky.idsOf('a'), [])

  const bySource = await admin('POST', '/admin/dead-letters/replay', { relay: 'flaky', source: 'other' })
  t.same(bySource.json(), { replayed: 1 })
  const rest = await admin('POST', '/admin/dead-letters/replay', { relay: 'flaky' })
  t.same(rest.json(), { replayed: 1 })
  await app.relay.dispatcher.drain()
  t.same(flaky.delivered.map(m => `${m.source}/${m.messageId}`).sort(), [
    'default/a1',
    'default/b1',
    'default/b2',
    'other/x1'
  ])
  t.same(
    (await admin('POST', '/admin/dead-letters/replay', { relay: 'flaky' })).json(),
    { replayed: 0 },
    'nothing left: not an error'
  )

  const ghost = await admin('POST', '/admin/dead-letters/replay', { relay: 'ghost' })
  t.equal(ghost.statusCode, 404)
  t.equal(ghost.headers['x-relay-error'], 'NOT_FOUND')
  t.match(ghost.json().msg, 'no relay named "ghost" is configured (configured: "flaky", "steady")')
})

t.test('drop deletes one dead letter for good; unknown is 404, not dead is 409', async t => {
  const { app, flaky, steady, state, admin, send } = await setup(t)
  await send('m1')
  await app.relay.dispatcher.drain()
  const [dead] = (await admin('GET', '/admin/dead-letters')).json().deadLetters

  const dropped = await admin('DELETE', `/admin/dead-letters/${dead.id}`)
  t.equal(dropped.statusCode, 200, dropped.body)
  t.same(dropped.json(), { dropped: 1 })
  t.same((await admin('GET', '/admin/dead-letters')).json().deadLetters, [])
  state.down = false
  await app.relay.dispatcher.drain()
  t.same(flaky.delivered, [], 'a dropped letter never goes out')

  for (const [method, url] of [
    ['DELETE', `/admin/dead-letters/${dead.id}`],
    ['POST', `/admin/dead-letters/${dead.id}/replay`],
    ['DELETE', '/admin/dead-letters/9999']
  ] as const) {
    const res = await admin(method, url)
    t.equal(res.statusCode, 404, `${method} ${url}`)
    t.equal(res.headers['x-relay-error'], 'NOT_FOUND')
    t.match(res.json().msg, /^no delivery \d+ is stored$/)
  }

  const [delivered] = await app.relay.store.listDeliveries({ relay: 'steady' })
  t.equal(delivered?.status, 'delivered')
  t.same(steady.idsOf('c1'), ['m1'])
  const conflict = await admin('DELETE', `/admin/dead-letters/${delivered!.id}`)
  t.equal(conflict.statusCode, 409)
  t.match(conflict.json(), {
    code: 409,
    msg: `delivery ${delivered!.id} is delivered, not dead; only dead letters can be dropped`
  })
})

t.test("POST /admin/dead-letters/drop deletes a relay's dead letters, or one conversation's", async t => {
  const { app, admin, send } = await setup(t)
  await send('m1', 'c1')
  await send('m2', 'c2')
  await send('m3', 'c2')
  await app.relay.dispatcher.drain()

  const one = await admin('POST', '/admin/dead-letters/drop', {
    relay: 'flaky',
    source: 'default',
    conversationId: 'c1'
  })
  t.equal(one.statusCode, 200, one.body)
  t.same(one.json(), { dropped: 1 })
  const noSource = await admin('POST', '/admin/dead-letters/drop', { relay: 'flaky', conversationId: 'c2' })
  t.equal(noSource.statusCode, 400)
  t.equal(noSource.headers['x-relay-error'], 'REQUEST_INVALID')
  const rest = await admin('POST', '/admin/dead-letters/drop', { relay: 'flaky' })
  t.same(rest.json(), { dropped: 2 })
  t.same((await admin('GET', '/admin/dead-letters')).json().deadLetters, [])
  const unauthorised = await app.inject({
    method: 'POST',
    url: '/admin/dead-letters/drop',
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify({ relay: 'flaky' })
  })
  t.equal(unauthorised.statusCode, 401)
})

t.test(
  'delivery ids and other numbers are read strictly: 49.9, 0x35, 1e2 or " 5" is a 400 naming the field',
  async t => {
    const { app, admin, send } = await setup(t)
    for (let i = 1; i <= 3; i++) await send(`strict-${i}`, `c${i}`)
    await app.relay.dispatcher.drain()
    const { deadLetters } = (await admin('GET', '/admin/dead-letters')).json()
    const id = deadLetters[0].id as number
    t.ok(id >= 1)
    for (const bad of [`${id}.9`, `0x${id.toString(16)}`, '1e2', ` ${id}`, `${id} `, `+${id}`, '-1', '']) {
      for (const [method, url] of [
        ['POST', `/admin/dead-letters/${encodeURIComponent(bad)}/replay`],
        ['DELETE', `/admin/dead-letters/${encodeURIComponent(bad)}`]
      ] as const) {
        const res = await admin(method, url)
        t.equal(res.statusCode, 400, `${method} ${url}: ${res.body}`)
        t.equal(res.headers['x-relay-error'], 'REQUEST_INVALID')
        t.match(res.json().msg, /^params\/id must be an integer in plain decimal digits/)
      }
    }
    for (const query of ['limit=2.5', 'limit=0x2', 'afterId=1e0', 'afterId=%205']) {
      const res = await admin('GET', `/admin/dead-letters?${query}`)
      t.equal(res.statusCode, 400, query)
      t.match(res.json().msg, new RegExp(`^query/${query.split('=')[0]} must be an integer in plain decimal digits`))
    }
    const after = await admin('GET', '/admin/dead-letters')
    t.equal(after.json().deadLetters.length, deadLetters.length, 'nothing was replayed or dropped')
    t.equal((await admin('POST', `/admin/dead-letters/${id}/replay`)).statusCode, 200, 'a plain id still works')
  }
)

t.test('a bulk replay or drop by conversation id without its source is refused, and nothing changes', async t => {
  const { app, admin, send } = await setup(t)
  await send('m1', 'c1')
  await app.relay.dispatcher.drain()
  for (const action of ['replay', 'drop']) {
    const res = await admin('POST', `/admin/dead-letters/${action}`, { relay: 'flaky', conversationId: 'c1' })
    t.equal(res.statusCode, 400, `${action}: ${res.body}`)
    t.match(res.json(), { code: 400, msg: /body\/source is required with body\/conversationId/ })
  }
  t.equal((await admin('GET', '/admin/dead-letters')).json().deadLetters.length, 1, 'the dead letter is still there')
})
