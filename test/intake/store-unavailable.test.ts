import t from 'tap'
import { SqliteStore } from '../../src/store/sqlite.js'
import { FakeRelay } from '../helpers/fake-relay.js'
import { post, seed, testApp } from '../helpers/app.js'

t.test('when the store cannot take a message: 503 with Retry-After, nothing acknowledged, then recovery', async t => {
  const store = new SqliteStore({ path: `${t.testdir()}/relay.db` })
  const realAccept = store.accept.bind(store)
  let broken = true
  store.accept = async (message, destinations) => {
    if (broken) throw new Error('SQLITE_FULL: database or disk is full')
    return realAccept(message, destinations)
  }
  const relay = new FakeRelay()
  const app = await testApp(t, { relays: new Map([['fake', relay]]), store })
  const res = await post(app, seed())
  t.equal(res.statusCode, 503)
  t.equal(res.headers['retry-after'], '5')
  t.equal(res.headers['x-relay-error'], 'STORE_UNAVAILABLE')
  t.same(res.json(), { code: 503, msg: 'the message could not be stored; nothing was accepted, send it again later' })
  t.notMatch(res.body, /SQLITE/, 'no internals in the answer')
  broken = false
  t.equal((await post(app, seed())).statusCode, 200, 'the same message, sent again, is accepted')
  await app.relay.dispatcher.drain()
  t.equal(relay.delivered.length, 1)
})
