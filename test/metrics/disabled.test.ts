import t from 'tap'
import { FakeRelay } from '../helpers/fake-relay.js'
import { post, seed, testApp } from '../helpers/app.js'

t.test('metrics.enabled false: GET /metrics is a 404 envelope and intake works on', async t => {
  const app = await testApp(t, {
    relays: new Map([['fake', new FakeRelay()]]),
    config: { metrics: { enabled: false } }
  })
  t.equal((await post(app, seed())).statusCode, 200, 'intake works without metrics')
  await app.relay.dispatcher.drain()
  const res = await app.inject({ method: 'GET', url: '/metrics' })
  t.equal(res.statusCode, 404)
  t.equal(res.headers['x-relay-error'], 'ROUTE_NOT_FOUND')
  t.match(res.json(), { code: 404, msg: /no such route/ })
})

t.test('metrics are on by default, need no credentials, and use the Prometheus content type', async t => {
  const app = await testApp(t, { relays: new Map([['fake', new FakeRelay()]]) })
  const res = await app.inject({ method: 'GET', url: '/metrics' })
  t.equal(res.statusCode, 200)
  t.equal(res.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8')
  t.match(res.body, /# TYPE gptbots_relay_messages_received_total counter/)
  t.equal(
    (await app.inject({ method: 'GET', url: '/metrics', headers: { authorization: 'Bearer wrong' } })).statusCode,
    200,
    'a webhook token is not checked here'
  )
})
