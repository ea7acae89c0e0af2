import t from 'tap'
import { FakeRelay } from '../helpers/fake-relay.js'
import { post, seed, testApp } from '../helpers/app.js'

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms))

t.test('closing lets a delivery in flight finish within the shutdown timeout', async t => {
  let started = false
  const relay = new FakeRelay(async () => {
    started = true
    await sleep(200)
    return { status: 'delivered' }
  })
  const app = await testApp(t, {
    relays: new Map([['fake', relay]]),
    dispatch: 'background',
    config: { server: { shutdownTimeoutMs: 5000 } }
  })
  await app.ready()
  await post(app, seed())
  while (!started) await sleep(5)
  await app.close()
  t.equal(relay.delivered.length, 1, 'finished before the store closed')
  const again = await testApp(t, { relays: new Map([['fake', new FakeRelay()]]), dbPath: app.dbPath })
  t.same(await again.relay.store.pendingByRelay(), {}, 'and recorded as delivered')
})

t.test(
  'a delivery still running at the shutdown timeout is abandoned unrecorded and runs again at the next start',
  async t => {
    let aborted = false
    const relay = new FakeRelay(
      (_m, ctx) =>
        new Promise(() => {
          ctx.signal.addEventListener('abort', () => {
            aborted = true
          })
        })
    )
    const app = await testApp(t, {
      relays: new Map([['fake', relay]]),
      dispatch: 'background',
      config: { server: { shutdownTimeoutMs: 100 } }
    })
    await app.ready()
    await post(app, seed())
    while (relay.attempts.length === 0) await sleep(5)
    const closing = Date.now()
    await app.close()
    t.ok(Date.now() - closing < 3000, 'shutdown did not wait for the hung delivery')
    t.ok(aborted, 'the relay was told to stop')
    const next = new FakeRelay()
    const again = await testApp(t, { relays: new Map([['fake', next]]), dbPath: app.dbPath })
    await again.relay.dispatcher.drain()
    t.equal(next.delivered.length, 1, 'delivered after the restart')
    const [record] = await again.relay.store.listDeliveries({})
    t.equal(record!.attempts, 1, 'the abandoned attempt was not counted as a failure')
  }
)
