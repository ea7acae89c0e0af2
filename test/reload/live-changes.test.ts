import t from 'tap'
import { post, seed, TOKEN } from '../helpers/app.js'
import { until } from '../helpers/process.js'
import { reloadable } from './harness.js'

t.test('an added relay and route take new messages; relays that did not change keep their instance', async t => {
  const h = await reloadable(t, { relays: { chat: { type: 'console' } } })
  const chat = h.relay('chat')
  await post(h.app, seed({ message_id: 'before' }))
  h.write({
    relays: { chat: { type: 'console' }, audit: { type: 'console', stream: 'stderr' } },
    routes: [{ to: ['chat', 'audit'] }]
  })
  const result = await h.app.relay.reload!()
  t.ok(result.ok, result.message)
  t.same(result.changed?.relays, { added: ['audit'], removed: [], replaced: [], kept: ['chat'] })
  t.equal(result.changed?.routes, true)
  t.equal(h.relay('chat'), chat, 'chat kept its instance')
  t.same([...h.app.relay.relays.keys()], ['chat', 'audit'], 'the runtime shows the new relays')
  t.same(h.app.relay.config.relays.audit, { type: 'console', stream: 'stderr' }, 'the runtime shows the new config')
  await post(h.app, seed({ message_id: 'after' }))
  await h.app.relay.dispatcher.drain()
  t.same(h.idsOf('chat', seed().conversation_id as string), ['before', 'after'])
  t.same(
    h.idsOf('audit', seed().conversation_id as string),
    ['after'],
    'only messages accepted after the reload go to the new relay'
  )
  t.notOk(chat.closed)
})

t.test('changed routes decide where the next message goes', async t => {
  const h = await reloadable(t, {
    relays: { a: { type: 'console' }, b: { type: 'console' } },
    routes: [{ to: ['a'] }]
  })
  await post(h.app, seed({ message_id: 'm1' }))
  h.write({
    relays: { a: { type: 'console' }, b: { type: 'console' } },
    routes: [{ match: { type: 'ANSWER' }, to: ['b'] }]
  })
  const result = await h.app.relay.reload!()
  t.ok(result.ok, result.message)
  t.same(result.changed?.relays.kept, ['a', 'b'])
  await post(h.app, seed({ message_id: 'm2' }))
  await h.app.relay.dispatcher.drain()
  const conversation = seed().conversation_id as string
  t.same(h.idsOf('a', conversation), ['m1'])
  t.same(h.idsOf('b', conversation), ['m2'])
})

t.test("a removed relay's messages stay pending and go out, in order, when it is added back", async t => {
  const relays = { keep: { type: 'console' }, gone: { type: 'console' } }
  const h = await reloadable(t, { relays })
  const gone = h.relay('gone')
  for (const id of ['g1', 'g2', 'g3']) await post(h.app, seed({ message_id: id }))

  h.write({ relays: { keep: { type: 'console' } } })
  const removed = await h.app.relay.reload!()
  t.ok(removed.ok, removed.message)
  t.same(removed.changed?.relays.removed, ['gone'])
  t.ok(await until(() => gone.closed, 2000), 'the removed instance is closed')
  t.same(await h.app.relay.store.pendingByRelay(), { keep: 3, gone: 3 }, 'its messages wait in the store')
  await post(h.app, seed({ message_id: 'g4' }))
  await h.app.relay.dispatcher.drain()
  t.same(
    await h.app.relay.store.pendingByRelay(),
    { gone: 3 },
    'nothing is sent to a relay that is not configured, and new messages do not route to it'
  )

  h.write({ relays })
  const back = await h.app.relay.reload!()
  t.ok(back.ok, back.message)
  t.same(back.changed?.relays.added, ['gone'])
  t.not(h.relay('gone'), gone, 'a new instance')
  await h.app.relay.dispatcher.drain()
  const conversation = seed().conversation_id as string
  t.same(h.idsOf('gone', conversation), ['g1', 'g2', 'g3'], 'delivered in order once it returned')
  t.same(h.idsOf('keep', conversation), ['g1', 'g2', 'g3', 'g4'])
  t.same(await h.app.relay.store.pendingByRelay(), {})
})

t.test('new tokens take effect and old ones stop working', async t => {
  const h = await reloadable(t, { relays: { chat: { type: 'console' } } })
  const next = 'the-next-token-9876543210'
  h.write({
    relays: { chat: { type: 'console' } },
    auth: { tokens: [next], sources: { crm: { tokens: ['crm-token-0123456789'] } } }
  })
  const result = await h.app.relay.reload!()
  t.ok(result.ok, result.message)
  t.equal(result.changed?.auth, true)
  t.equal(
    (await post(h.app, seed({ message_id: 'old' }))).statusCode,
    401,
    `the old token ${TOKEN.slice(0, 4)}… is refused`
  )
  t.equal(
    (await post(h.app, seed({ message_id: 'new' }), { authorization: `Bearer ${next}` })).statusCode,
    200,
    'the new token is taken'
  )
  t.equal(
    (await post(h.app, seed({ message_id: 'crm' }), { authorization: 'Bearer crm-token-0123456789' }, '/webhook/crm'))
      .statusCode,
    200,
    'a new source is served'
  )
})

t.test('log level, dispatch policy and admin token are applied; settings read only at start are reported', async t => {
  const h = await reloadable(t, { relays: { chat: { type: 'console' } } })
  h.write({
    relays: { chat: { type: 'console' } },
    log: { level: 'fatal' },
    dispatch: { concurrency: 2 },
    admin: { token: 'an-admin-token-of-some-length' },
    intake: { rateLimit: { max: 5 } }
  })
  const result = await h.app.relay.reload!()
  t.ok(result.ok, result.message)
  t.equal(h.app.log.level, 'fatal')
  t.match(result.changed, { logLevel: true, dispatch: true, admin: true, atNextStart: ['intake'] })
  t.equal(h.app.relay.config.admin.token, 'an-admin-token-of-some-length')
  t.match(result.message, /log level fatal/)

  const again = await h.app.relay.reload!()
  t.ok(again.ok)
  t.match(again.message, /nothing changed/, 'reloading the same file changes nothing')
})
