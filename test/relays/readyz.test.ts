import t from 'tap'
import { readinessCheck } from '../../src/ops/readiness.js'
import type { Relay } from '../../src/relays/types.js'
import { SqliteStore } from '../../src/store/sqlite.js'
import { FakeRelay } from '../helpers/fake-relay.js'
import { testApp } from '../helpers/app.js'

t.test('GET /readyz: 200 when the store and every relay are ready, 503 naming what is not', async t => {
  const slackProblem: string | undefined =
    'relay "slack.support": channel C0123456 is archived; unarchive it or choose another'
  const slack = Object.assign(new FakeRelay(), {
    ready: async () => {
      if (slackProblem) throw new Error(slackProblem)
    }
  })
  const app = await testApp(t, {
    relays: new Map([
      ['slack.support', slack],
      ['plain', new FakeRelay()]
    ])
  })
  const res = await app.inject({ method: 'GET', url: '/readyz' })
  t.equal(res.statusCode, 503)
  t.same(res.json(), { status: 'not ready', store: 'ok', relays: { 'slack.support': slackProblem, plain: 'ok' } })
  t.match(
    (await app.inject({ method: 'GET', url: '/healthz' })).json(),
    { status: 'ok', instance: String },
    'the process still serves'
  )
})

t.test('relay checks are cached, and the store is asked every time', async t => {
  let time = 0
  let calls = 0
  let broken = true
  const relay = Object.assign(new FakeRelay(), {
    ready: async () => {
      calls++
      if (broken) throw new Error('down')
    }
  })
  const store = new SqliteStore({ path: `${t.testdir()}/relay.db` })
  t.teardown(() => store.close())
  const check = readinessCheck(store, new Map([['r', relay]]), { cacheMs: 30_000, now: () => time })
  t.same(await check(), { ready: false, store: 'ok', relays: { r: 'down' } })
  broken = false
  time = 29_999
  t.same(await check(), { ready: false, store: 'ok', relays: { r: 'down' } }, 'cached')
  t.equal(calls, 1)
  time = 30_000
  t.same(await check(), { ready: true, store: 'ok', relays: { r: 'ok' } }, 'asked again after the cache time')
  await store.close()
  t.match(await check(), { ready: false, store: /not open|closed/i })
})

t.test(
  "a relay replaced under the same name (a config reload) is checked afresh, not served its predecessor's result",
  async t => {
    const store = new SqliteStore({ path: `${t.testdir()}/relay.db` })
    t.teardown(() => store.close())
    const relays = new Map<string, Relay>([
      [
        'r',
        Object.assign(new FakeRelay(), {
          ready: async () => {
            throw new Error('old token revoked')
          }
        })
      ]
    ])
    const check = readinessCheck(store, relays, { cacheMs: 30_000, now: () => 0 })
    t.same((await check()).relays, { r: 'old token revoked' })
    relays.set('r', Object.assign(new FakeRelay(), { ready: async () => {} }))
    t.same(await check(), { ready: true, store: 'ok', relays: { r: 'ok' } }, 'the new instance answers at once')
  }
)

t.test(
  'a check that does not answer is waited for at most timeoutMs, and the running check serves the next probes',
  async t => {
    let calls = 0
    let answer: (() => void) | undefined
    const relay = Object.assign(new FakeRelay(), {
      ready: () => {
        calls++
        return new Promise<void>(resolve => {
          answer = resolve
        })
      }
    })
    const store = new SqliteStore({ path: `${t.testdir()}/relay.db` })
    t.teardown(() => store.close())
    const waits: number[] = []
    const check = readinessCheck(store, new Map([['slack.support', relay]]), {
      timeoutMs: 5000,
      // The bound passes as soon as the store has answered its ping (a real write since the store
      // checks that it can take messages): only a relay check already finished can make it.
      wait: async ms => {
        waits.push(ms)
        await store.ping()
      }
    })
    for (let probe = 0; probe < 3; probe++)
      t.same(await check(), {
        ready: false,
        store: 'ok',
        relays: {
          'slack.support':
            'relay "slack.support" did not answer its readiness check within 5 s: check that its platform (apiUrl) is reachable from here'
        }
      })
    t.equal(calls, 1, 'one check for three probes')
    t.ok(waits.every(ms => ms === 5000))
    answer?.()
    await new Promise(resolve => setImmediate(resolve))
    t.same(
      await check(),
      { ready: true, store: 'ok', relays: { 'slack.support': 'ok' } },
      'its answer serves the next probe'
    )
  }
)

t.test('a held relay is not ready, with the reason, and its platform is not asked', async t => {
  let calls = 0
  const relay = Object.assign(new FakeRelay(), {
    ready: async () => {
      calls++
    }
  })
  const store = new SqliteStore({ path: `${t.testdir()}/relay.db` })
  t.teardown(() => store.close())
  const check = readinessCheck(store, new Map([['slack.support', relay]]), {
    held: () => new Map([['slack.support', { reason: 'Slack rejected the token', since: Date.UTC(2026, 0, 1) }]])
  })
  t.same(await check(), {
    ready: false,
    store: 'ok',
    relays: { 'slack.support': 'held since 2026-01-01T00:00:00.000Z: Slack rejected the token' }
  })
  t.equal(calls, 0)
})
