import t from 'tap'
import { FakeRelay } from '../helpers/fake-relay.js'
import { post, seed, testApp } from '../helpers/app.js'

t.test('a repeated message_id is acknowledged every time and relayed once per destination', async t => {
  const a = new FakeRelay()
  const b = new FakeRelay()
  const app = await testApp(t, {
    relays: new Map([
      ['a', a],
      ['b', b]
    ])
  })
  for (let i = 0; i < 3; i++) t.same((await post(app, seed())).json(), { code: 200, msg: 'success' })
  // A proxy retrying in parallel: all at once, in one group commit.
  const burst = await Promise.all(Array.from({ length: 10 }, () => post(app, seed())))
  t.ok(burst.every(r => r.statusCode === 200))
  await app.relay.dispatcher.drain()
  t.equal(a.delivered.length, 1)
  t.equal(b.delivered.length, 1)
})

t.test('a repeat after delivery is still a duplicate', async t => {
  const relay = new FakeRelay()
  const app = await testApp(t, { relays: new Map([['fake', relay]]) })
  await post(app, seed())
  await app.relay.dispatcher.drain()
  await post(app, seed({ text: 'changed on the way' }))
  await app.relay.dispatcher.drain()
  t.equal(relay.delivered.length, 1)
  t.equal(relay.delivered[0]!.text, 'Hi, is there anything I can help you?')
})

t.test('the same message id as QUESTION and ANSWER, or from two sources, are different messages', async t => {
  const relay = new FakeRelay()
  const app = await testApp(t, {
    relays: new Map([['fake', relay]]),
    config: { auth: { tokens: ['test-token-0123456789'], sources: { sales: { tokens: ['sales-token'] } } } }
  })
  await post(app, seed())
  await post(app, seed({ message_type: 'QUESTION' }))
  await post(app, seed(), { authorization: 'Bearer sales-token' }, '/webhook/sales')
  await app.relay.dispatcher.drain()
  t.same(relay.delivered.map(m => `${m.source}:${m.type}`).sort(), [
    'default:ANSWER',
    'default:QUESTION',
    'sales:ANSWER'
  ])
})
