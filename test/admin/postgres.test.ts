import t from 'tap'
import { FakeRelay } from '../helpers/fake-relay.js'
import { post, seed, testApp } from '../helpers/app.js'
import { postgresOrSkip } from '../helpers/postgres.js'

const ADMIN = 'admin-token-0123456789'
const headers = { authorization: `Bearer ${ADMIN}` }

t.test('on PostgreSQL: list, replay in place, drop and conversation replay behave as on SQLite', async t => {
  const db = await postgresOrSkip(t)
  if (!db) return
  const schema = await db.schema(t)
  const state = { down: true }
  const flaky = new FakeRelay(() =>
    state.down ? { status: 'failed', error: 'channel_not_found' } : { status: 'delivered' }
  )
  const late = new FakeRelay()
  const app = await testApp(t, {
    relays: new Map([
      ['flaky', flaky],
      ['late', late]
    ]),
    config: { admin: { token: ADMIN }, store: { driver: 'postgres', url: db.url, schema }, routes: [{ to: ['flaky'] }] }
  })
  const admin = (method: 'GET' | 'POST' | 'DELETE', url: string, payload?: object) =>
    app.inject({
      method,
      url,
      headers: payload ? { ...headers, 'content-type': 'application/json' } : headers,
      payload: payload ? JSON.stringify(payload) : undefined
    })
  const send = async (id: string) =>
    t.equal((await post(app, seed({ message_id: id, conversation_id: 'c' }))).statusCode, 200)

  await send('m1')
  await send('m2')
  await app.relay.dispatcher.drain()
  const dead = (await admin('GET', '/admin/dead-letters?relay=flaky')).json().deadLetters
  t.same(
    dead.map((d: any) => d.messageId),
    ['m1', 'm2']
  )
  t.match(dead[0], { status: 'dead', attempts: 1, lastError: 'channel_not_found' })

  t.same((await admin('DELETE', `/admin/dead-letters/${dead[1].id}`)).json(), { dropped: 1 })
  state.down = false
  await send('m3')
  t.same((await admin('POST', `/admin/dead-letters/${dead[0].id}/replay`)).json(), { replayed: 1 })
  await app.relay.dispatcher.drain()
  t.same(flaky.idsOf('c'), ['m1', 'm3'], 'm1 in its place, m2 dropped')
  t.equal((await admin('POST', `/admin/dead-letters/${dead[0].id}/replay`)).statusCode, 409)
  t.equal((await admin('DELETE', `/admin/dead-letters/${dead[1].id}`)).statusCode, 404)

  const [conversation] = (await admin('GET', '/admin/conversations')).json().conversations
  t.match(conversation, {
    source: 'default',
    conversationId: 'c',
    messages: 3,
    destinations: [{ relay: 'flaky', pending: 0, delivered: 2, dead: 0 }]
  })
  const messages = (await admin('GET', '/admin/conversations/default/c/messages')).json().messages
  t.same(
    messages.map((m: any) => [m.message.messageId, m.deliveries.map((d: any) => d.status)]),
    [
      ['m1', ['delivered']],
      ['m2', []],
      ['m3', ['delivered']]
    ]
  )

  t.same((await admin('POST', '/admin/conversations/default/c/replay', { relay: 'late' })).json(), { queued: 3 })
  await app.relay.dispatcher.drain()
  t.same(late.idsOf('c'), ['m1', 'm2', 'm3'])
})
