import t from 'tap'
import { FakeRelay } from '../helpers/fake-relay.js'
import { post, seed, testApp, TOKEN } from '../helpers/app.js'

t.test('an istest probe is answered with success and neither stored nor relayed', async t => {
  const relay = new FakeRelay()
  const app = await testApp(t, { relays: new Map([['fake', relay]]) })
  for (const body of [{ istest: true }, seed({ istest: true }), { istest: true, output: [] }]) {
    const res = await post(app, body)
    t.same(res.json(), { code: 200, msg: 'success' })
  }
  await app.relay.dispatcher.drain()
  t.equal(relay.attempts.length, 0, 'nothing relayed')
  t.same(await app.relay.store.pendingByRelay(), {}, 'nothing stored')
  // The seed sent later as a real message is not mistaken for a duplicate of the probe.
  t.equal((await post(app, seed())).statusCode, 200)
  await app.relay.dispatcher.drain()
  t.equal(relay.delivered.length, 1, 'the same message id, sent for real, is relayed')
})

t.test('a probe still needs credentials', async t => {
  const app = await testApp(t, { relays: new Map([['fake', new FakeRelay()]]) })
  const res = await post(app, { istest: true }, { authorization: 'Bearer wrong' })
  t.equal(res.statusCode, 401)
  t.equal((await post(app, { istest: true }, { authorization: `Basic ${TOKEN}` })).statusCode, 200)
})

t.test('istest that is not true is an ordinary message', async t => {
  const relay = new FakeRelay()
  const app = await testApp(t, { relays: new Map([['fake', relay]]) })
  t.equal((await post(app, seed({ istest: false }))).statusCode, 200)
  await app.relay.dispatcher.drain()
  t.equal(relay.delivered.length, 1)
})
