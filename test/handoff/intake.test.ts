import t from 'tap'
import { fakeApiKey } from '../fakes/gptbots.js'
import { testApp } from '../helpers/app.js'
import { call, chatBody, closeBody, establishBody } from './helpers.js'

const config = {
  relays: { 'console.desk': { type: 'console' } },
  handoff: { relays: ['console.desk'], gptbots: { apiUrl: 'http://127.0.0.1:9' } },
  auth: { tokens: ['test-token-0123456789'], sources: { shop: { tokens: ['shop-token-0123456789'] } } }
}
const env = { GPTBOTS_API_KEY: fakeApiKey }

t.test('establish, chat and close are stored for the desk relays, answered as GPTBots expects', async t => {
  const app = await testApp(t, { config, env })
  const establish = establishBody('h-1')
  const first = await call(app, 'conversation/establish', establish)
  t.equal(first.statusCode, 200)
  t.same(first.json(), { code: 200, message: 'success' })
  t.equal((await call(app, 'chat', chatBody('h-1', 'hello?'))).statusCode, 200)
  t.equal((await call(app, 'conversation/close', closeBody('h-1', 'USER_CLOSED'))).statusCode, 200)

  const stored = await app.relay.store.listMessages('default', 'handoff:h-1')
  t.same(
    stored.map(s => s.message.handoff?.kind),
    ['establish', 'chat', 'close']
  )
  const opening = stored[0]!.message
  t.equal(opening.format, 'handoff')
  t.same(opening.handoff?.kind === 'establish' && opening.handoff.history.map(h => h.type), [
    'QUESTION',
    'ANSWER',
    'QUESTION'
  ])
  t.same(opening.handoff?.kind === 'establish' && opening.handoff.userInfo, {
    phone: '+1 555 0100',
    email: 'ann@example.com',
    user_id: 'u-ann'
  })
  const deliveries = await app.relay.store.listDeliveries({ conversationId: 'handoff:h-1' })
  t.same(new Set(deliveries.map(d => d.relay)), new Set(['console.desk']), 'only the desk relays get them')
  const record = await app.relay.store.stateGet('@handoff', 'default', 'handoff:h-1', 'record')
  t.match(record, { status: 'closed', closedReason: 'USER_CLOSED' })

  // GPTBots sending the same call again is acknowledged and stored once.
  const again = await call(app, 'conversation/establish', establish)
  t.same(again.json(), { code: 200, message: 'success' })
  t.equal((await app.relay.store.listMessages('default', 'handoff:h-1')).length, 3)
})

t.test('availability probes are answered and change nothing', async t => {
  const app = await testApp(t, { config, env })
  for (const path of ['conversation/establish', 'chat', 'conversation/close']) {
    const probe = await call(app, path, { istest: true })
    t.same(probe.json(), { code: 200, message: 'success' }, path)
  }
  t.same(await app.relay.store.listConversations({}), [])
})

t.test('a probe without credentials (GPTBots may send none) is answered too, and changes nothing', async t => {
  const app = await testApp(t, { config, env })
  for (const path of ['conversation/establish', 'chat', 'conversation/close', 'shop/chat']) {
    for (const authorization of ['', 'Bearer nope-nope-nope']) {
      const probe = await call(app, path, { istest: true, conversation_id: 'h-p', timestamp: 1 }, { authorization })
      t.same(probe.json(), { code: 200, message: 'success' }, `${path} ${authorization || 'without credentials'}`)
    }
  }
  t.same(await app.relay.store.listConversations({}), [], 'nothing stored')
  const notProbe = await call(app, 'chat', { ...chatBody('h-p', 'x'), istest: false }, { authorization: '' })
  t.equal(notProbe.statusCode, 401, 'a real call without credentials is still refused')
  t.equal(notProbe.headers['x-relay-error'], 'AUTH_MISSING')
  const big = await call(app, 'chat', { istest: true, padding: 'x'.repeat(5000) }, { authorization: '' })
  t.equal(big.statusCode, 401, 'a large body without credentials is refused before it is read')
  t.same(await app.relay.store.listConversations({}), [])
})

t.test('the webhook tokens guard the handoff, per source too', async t => {
  const app = await testApp(t, { config, env })
  const none = await call(app, 'chat', chatBody('h-2', 'x'), { authorization: '' })
  t.equal(none.statusCode, 401)
  t.equal(none.headers['x-relay-error'], 'AUTH_MISSING')
  const wrong = await call(app, 'chat', chatBody('h-2', 'x'), { authorization: 'Bearer nope-nope-nope' })
  t.same(wrong.json(), { code: 401, msg: 'wrong credentials for this webhook' })
  const otherSource = await call(app, 'shop/chat', chatBody('h-2', 'x'))
  t.equal(otherSource.statusCode, 401, "the default token does not open another source's URL")
  const own = await call(app, 'shop/chat', chatBody('h-2', 'x'), { authorization: 'Bearer shop-token-0123456789' })
  t.same(own.json(), { code: 200, message: 'success' })
  t.equal((await app.relay.store.listMessages('shop', 'handoff:h-2')).length, 1)
  const unknown = await call(app, 'nowhere/chat', chatBody('h-2', 'x'))
  t.equal(unknown.statusCode, 404)
})

t.test('a malformed call is refused with the field named, in the relay envelope', async t => {
  const app = await testApp(t, { config, env })
  const missing = await call(app, 'conversation/establish', { timestamp: 1, body: [] })
  t.equal(missing.statusCode, 400)
  t.equal(missing.headers['x-relay-error'], 'HANDOFF_BODY_INVALID')
  t.match(missing.json().msg, /body\/conversation_id/)
  const badType = await call(app, 'conversation/close', { conversation_id: 'h', timestamp: 1, type: 'BORED' })
  t.match(badType.json(), { code: 400, msg: /body\/type/ })
  const notText = await call(app, 'chat', { conversation_id: 'h', timestamp: 1, body: 5 })
  t.match(notText.json(), { code: 400, msg: /body\/body/ })
  t.same(await app.relay.store.listConversations({}), [])
})

t.test('without the API key the relay does not start, and says where the key goes', async t => {
  await t.rejects(testApp(t, { config, env: {} }), /GPTBOTS_API_KEY/)
})
