import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { Admission, LoopDelay } from '../../src/intake/protect.js'
import { SqliteStore } from '../../src/store/sqlite.js'
import { FakeRelay } from '../helpers/fake-relay.js'
import { post, seed, testApp, TOKEN } from '../helpers/app.js'
import { postgresOrSkip } from '../helpers/postgres.js'
import { startRelay, until } from '../helpers/process.js'

// Back-pressure (intake.backpressure): when the store is behind or the event loop lags, a webhook
// gets 503 OVERLOADED with Retry-After before its body is read, so nothing is half-stored and
// memory stays bounded; /healthz keeps answering.

t.test('Admission: refuses at maxInFlight and above the loop delay, counts each request out once', async t => {
  let delay = 0
  const admission = new Admission({ maxInFlight: 2, maxEventLoopDelayMs: 100, loopDelay: () => delay })
  t.equal(admission.refusal(), undefined)
  const first = admission.enter()
  const second = admission.enter()
  t.match(admission.refusal(), /2 webhook requests are already being read or stored/)
  first()
  first()
  t.equal(admission.inFlight, 1, 'counting out twice counts once')
  t.equal(admission.refusal(), undefined)
  delay = 150
  t.match(admission.refusal(), /event loop is 150 ms behind .*maxEventLoopDelayMs is 100/)
  delay = 100
  t.equal(admission.refusal(), undefined, 'at the limit is not over it')
  second()
  t.equal(admission.inFlight, 0)
})

t.test('LoopDelay: one late tick is not a loop that stays behind; two in a row are', async t => {
  let now = 0
  const loop = new LoopDelay(50, () => now)
  loop.start()
  t.teardown(() => loop.stop())
  const tickAt = (at: number) => {
    now = at
    loop.tick()
  }
  tickAt(50)
  tickAt(100)
  t.equal(loop.delayMs(), 0, 'ticks on time')
  tickAt(2100)
  t.equal(loop.delayMs(), 0, 'a single 2 s block (a huge body, a GC pause) is over')
  tickAt(2150)
  t.equal(loop.delayMs(), 0)
  tickAt(2500)
  tickAt(2900)
  t.equal(loop.delayMs(), 300, 'late again and again (by 300 then 350 ms): behind by the smaller')
  tickAt(2950)
  t.equal(loop.delayMs(), 0, 'caught up')
})

/** A real SQLite store whose accept waits until released, as a store on a slow disk or database would. */
function slowStore(path: string) {
  const store = new SqliteStore({ path })
  const realAccept = store.accept.bind(store)
  const held: (() => void)[] = []
  let holding = true
  store.accept = async (message, destinations) => {
    if (holding) await new Promise<void>(resolve => held.push(resolve))
    return realAccept(message, destinations)
  }
  return {
    store,
    held,
    release() {
      holding = false
      for (const go of held.splice(0)) go()
    }
  }
}

t.test(
  'beyond maxInFlight while the store is slow: 503 OVERLOADED with Retry-After; the held ones are stored, exactly those',
  async t => {
    const slow = slowStore(join(t.testdir(), 'relay.db'))
    const relay = new FakeRelay()
    const app = await testApp(t, {
      relays: new Map([['fake', relay]]),
      store: slow.store,
      config: { intake: { backpressure: { maxInFlight: 3, retryAfterSeconds: 7 } } }
    })
    const held = [1, 2, 3].map(i => post(app, seed({ message_id: `held-${i}` })))
    t.ok(await until(() => slow.held.length === 3, 5000), 'three requests wait for the store')

    for (const i of [4, 5]) {
      const res = await post(app, seed({ message_id: `refused-${i}` }))
      t.equal(res.statusCode, 503)
      t.equal(res.headers['x-relay-error'], 'OVERLOADED')
      t.equal(res.headers['retry-after'], '7')
      t.match(res.json(), { code: 503, msg: /overloaded; nothing was accepted.*maxInFlight/ })
    }
    t.equal(
      (await post(app, { istest: true })).statusCode,
      503,
      'a probe is refused too: it cannot be told apart before its body is read'
    )
    t.equal(slow.held.length, 3, 'no refused request reached the store')
    t.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200, '/healthz answers while overloaded')
    t.equal(
      (await post(app, seed(), { authorization: 'Bearer wrong' })).statusCode,
      401,
      'strangers are refused for their credentials, and never counted in'
    )

    slow.release()
    for (const res of await Promise.all(held))
      t.equal(res.statusCode, 200, 'a held request is acknowledged once stored')
    t.equal((await post(app, seed({ message_id: 'after' }))).statusCode, 200, 'answered requests are counted out')
    await app.relay.dispatcher.drain()
    t.same(
      relay.delivered.map(m => m.messageId).sort(),
      ['after', 'held-1', 'held-2', 'held-3'],
      'exactly the acknowledged messages were stored'
    )
  }
)

t.test(
  'an event loop that stays behind: webhooks get 503 until it catches up, /healthz does not; nothing refused is stored',
  async t => {
    const relay = new FakeRelay()
    const app = await testApp(t, {
      relays: new Map([['fake', relay]]),
      config: { intake: { backpressure: { maxEventLoopDelayMs: 100 } } }
    })
    const answered = new Map<string, number>()
    let n = 0
    const send = async () => {
      const id = `m-${n++}`
      const res = await post(app, seed({ message_id: id }))
      answered.set(id, res.statusCode)
      return res
    }
    t.equal((await send()).statusCode, 200)

    // Long synchronous tasks, one after another, as a CPU-bound process would run them.
    const hog = setInterval(() => {
      const end = performance.now() + 200
      while (performance.now() < end) {
        /* the loop is blocked */
      }
    }, 1)
    t.teardown(() => clearInterval(hog))
    let refused
    t.ok(
      await until(async () => {
        refused = await send()
        return refused.statusCode === 503
      }, 5000),
      'webhooks are refused while the loop stays behind'
    )
    t.equal(refused!.headers['x-relay-error'], 'OVERLOADED')
    t.equal(refused!.headers['retry-after'], '5')
    t.match(refused!.json(), { code: 503, msg: /event loop is \d+ ms behind/ })
    t.equal(
      (await app.inject({ method: 'GET', url: '/healthz' })).statusCode,
      200,
      '/healthz answers: the process is alive'
    )
    clearInterval(hog)

    t.ok(
      await until(async () => (await send()).statusCode === 200, 5000),
      'webhooks are taken again once the loop has caught up'
    )
    await app.relay.dispatcher.drain()
    const acknowledged = [...answered]
      .filter(([, status]) => status === 200)
      .map(([id]) => id)
      .sort()
    t.same(relay.delivered.map(m => m.messageId).sort(), acknowledged, 'exactly the acknowledged messages were stored')
  }
)

t.test('no false alarm at start-up or under ordinary load: the defaults take a burst at once', async t => {
  const relay = new FakeRelay()
  const app = await testApp(t, { relays: new Map([['fake', relay]]) })
  const answers = await Promise.all(
    Array.from({ length: 200 }, (_, i) => post(app, seed({ message_id: `burst-${i}`, conversation_id: `c-${i % 20}` })))
  )
  t.same([...new Set(answers.map(res => res.statusCode))], [200])
  await app.relay.dispatcher.drain()
  t.equal(relay.delivered.length, 200)
})

t.test(
  'a real process on a locked PostgreSQL table: maxInFlight held, the rest 503 at once, exactly the held ones stored',
  async t => {
    const db = await postgresOrSkip(t)
    if (!db) return
    const schema = await db.schema(t)
    const dir = t.testdir({})
    const config = join(dir, 'relay.json')
    writeFileSync(
      config,
      JSON.stringify({
        auth: { tokens: [TOKEN] },
        store: { driver: 'postgres', url: db.url, schema },
        relays: { console: { type: 'console', stream: 'stderr' } },
        intake: { rateLimit: { max: 0 }, backpressure: { maxInFlight: 4, retryAfterSeconds: 3 } },
        log: { level: 'warn' }
      })
    )
    const relay = await startRelay(t, ['start', '--config', config])

    // Another session takes the messages table: the relay's inserts wait, as on a database that is stuck.
    const lock = await db.client(t)
    await lock.query('BEGIN')
    await lock.query(`LOCK TABLE "${schema}".messages IN EXCLUSIVE MODE`)

    const sent = Array.from({ length: 16 }, (_, i) => `p-${i}`)
    const answered = new Map<string, number>()
    const posts = sent.map(id =>
      fetch(`${relay.url}/webhook`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
        body: JSON.stringify(seed({ message_id: id }))
      }).then(async res => {
        answered.set(id, res.status)
        if (res.status === 503) {
          t.equal(res.headers.get('retry-after'), '3')
          t.equal(res.headers.get('x-relay-error'), 'OVERLOADED')
        }
        await res.text()
      })
    )
    t.ok(
      await until(() => answered.size === 12, 10000),
      `all but maxInFlight answered while the store is stuck (${answered.size})`
    )
    t.same([...new Set(answered.values())], [503], 'each of them with 503')
    t.equal((await fetch(`${relay.url}/healthz`)).status, 200, '/healthz answers while overloaded')

    await lock.query('COMMIT')
    await Promise.all(posts)
    const acknowledged = sent.filter(id => answered.get(id) === 200).sort()
    t.equal(acknowledged.length, 4, 'the held ones are acknowledged once the store moves')
    const stored = await db.query<{ message_id: string }>(
      `SELECT message_id FROM "${schema}".messages ORDER BY message_id`
    )
    t.same(
      stored.rows.map(r => r.message_id),
      acknowledged,
      'exactly the acknowledged messages are stored'
    )

    // Over kept-alive connections, one after another: each answered request has been counted out.
    for (let i = 0; i < 20; i++) {
      const res = await fetch(`${relay.url}/webhook`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
        body: JSON.stringify(seed({ message_id: `later-${i}` }))
      })
      t.equal(res.status, 200, `later-${i}`)
      await res.text()
    }
    relay.child.kill('SIGTERM')
    await relay.exited
  }
)
