import { join } from 'node:path'
import { Writable } from 'node:stream'
import { pino } from 'pino'
import t from 'tap'
import { ManualClock } from './helpers/clock.js'
import { startRetention } from '../src/store/retention.js'
import { SqliteStore } from '../src/store/sqlite.js'
import type { PruneResult } from '../src/store/types.js'
import { testApp } from './helpers/app.js'
import { until } from './helpers/process.js'
import { message, recordDelivered, T } from './store/fixtures/store.js'
import { claimLanes, headOf } from './helpers/outbox-steps.js'

const hour = 3_600_000

/** A logger that keeps its lines. */
function recordingLogger() {
  const lines: { level: string; details: object; message: string }[] = []
  return {
    lines,
    info: (details: object, message: string) => {
      lines.push({ level: 'info', details, message })
    },
    error: (details: object, message: string) => {
      lines.push({ level: 'error', details, message })
    }
  }
}

/** A store whose prune is counted and answered by `answer`. */
function fakeStore(answer: (before: number) => Promise<PruneResult>) {
  const calls: number[] = []
  return {
    calls,
    prune: (before: number) => {
      calls.push(before)
      return answer(before)
    }
  }
}

t.test(
  'prunes what was delivered before deliveredHours ago, by the clock, and logs one line when something went',
  async t => {
    const store = new SqliteStore({ path: ':memory:' })
    t.teardown(() => store.close())
    const clock = new ManualClock(T)
    const logger = recordingLogger()
    const old = message({ receivedAt: T - 3 * hour })
    const young = message({ receivedAt: T - hour })
    await store.accept(old, ['slack'])
    await store.accept(young, ['slack'])
    const [lane] = await claimLanes(store, { owner: 'a', now: T, limit: 1, leaseMs: 1000, relays: ['slack'] })
    for (let head = await headOf(store, lane!.id); head; head = await headOf(store, lane!.id))
      await recordDelivered(store, head, undefined, T)

    const retention = startRetention({ store, retention: { deliveredHours: 2, intervalMinutes: 60 }, clock, logger })
    t.teardown(() => retention.stop())
    t.strictSame(await retention.runOnce(), { messages: 1, deliveries: 1 })
    t.strictSame(
      (await store.listMessages('default', 'c1')).map(m => m.message.messageId),
      [young.messageId],
      'the younger one stays'
    )
    t.equal(logger.lines.length, 1)
    t.match(logger.lines[0], {
      level: 'info',
      details: { messages: 1, deliveries: 1 },
      message: /pruned 1 message\(s\) and 1 delivery record/
    })

    t.strictSame(await retention.runOnce(), { messages: 0, deliveries: 0 })
    t.equal(logger.lines.length, 1, 'nothing pruned, nothing logged')
    clock.advance(hour + 1)
    t.strictSame(await retention.runOnce(), { messages: 1, deliveries: 1 }, 'the clock moved on')
  }
)

t.test('deliveredHours 0 keeps everything and never touches the store', async t => {
  const store = fakeStore(async () => ({ messages: 0, deliveries: 0 }))
  const retention = startRetention({
    store,
    retention: { deliveredHours: 0, intervalMinutes: 1 },
    clock: new ManualClock(T),
    logger: recordingLogger()
  })
  t.equal(await retention.runOnce(), undefined)
  await new Promise(resolve => setTimeout(resolve, 20))
  t.strictSame(store.calls, [])
  await retention.stop()
})

t.test(
  'runs at start and on every interval; a failure is logged and the next run goes on; stop waits for a run',
  async t => {
    let fail = true
    let hold = false
    let release = () => {}
    const store = fakeStore(async () => {
      if (fail) {
        fail = false
        throw new Error('disk on fire')
      }
      if (hold)
        await new Promise<void>(resolve => {
          release = resolve
        })
      return { messages: 2, deliveries: 3 }
    })
    const logger = recordingLogger()
    const clock = new ManualClock(T)
    // 30 ms: the interval is minutes in the config, a fraction here so the test takes no time.
    const retention = startRetention({
      store,
      retention: { deliveredHours: 1, intervalMinutes: 0.0005 },
      clock,
      logger
    })
    t.teardown(() => retention.stop())
    t.ok(await until(() => store.calls.length >= 3, 5000), 'it ran again and again')
    t.equal(store.calls[0], T - hour, 'pruning what was received an hour before now')
    t.match(logger.lines[0], {
      level: 'error',
      message: /pruning delivered messages failed: disk on fire; it is tried again in 0.0005 minute/
    })
    t.match(logger.lines[1], { level: 'info', details: { messages: 2, deliveries: 3 } })

    // Hold the next run open, then stop while it is under way.
    hold = true
    const seen = store.calls.length
    t.ok(await until(() => store.calls.length > seen, 5000), 'a run is under way')
    let stopped = false
    const stopping = retention.stop().then(() => {
      stopped = true
    })
    await new Promise(resolve => setTimeout(resolve, 50))
    t.notOk(stopped, 'stop waits for the run under way')
    release()
    await stopping
    const after = store.calls.length
    await new Promise(resolve => setTimeout(resolve, 100))
    t.equal(store.calls.length, after, 'no run after stop')
    t.equal(await retention.runOnce(), undefined, 'nor on request')
  }
)

t.test('the running relay prunes on start and stops pruning before its store closes', async t => {
  const dbPath = join(t.testdir(), 'relay.db')
  const seeded = new SqliteStore({ path: dbPath })
  await seeded.accept(message({ receivedAt: T - 200 * hour }), ['console'])
  await seeded.accept(message({ conversationId: 'kept', receivedAt: T - 200 * hour }), ['console'])
  const [lane] = await claimLanes(seeded, { owner: 'a', now: T, limit: 10, leaseMs: 1000, relays: ['console'] })
  await recordDelivered(seeded, (await headOf(seeded, lane!.id))!, undefined, T)
  await seeded.close()

  const lines: string[] = []
  const logger = pino(
    { level: 'info' },
    new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk))
        done()
      }
    })
  )
  // The pending message stays pending: its relay is not configured in this app.
  const app = await testApp(t, {
    dbPath,
    dispatch: 'background',
    logger,
    clock: new ManualClock(T),
    config: { relays: { other: { type: 'console' } } }
  })
  await app.ready()
  t.ok(
    await until(async () => (await app.relay.store.listMessages('default', 'c1')).length === 0, 5000),
    'the old delivered message is pruned'
  )
  t.equal((await app.relay.store.listMessages('default', 'kept')).length, 1, 'the pending one is kept')
  t.ok(
    lines.some(l => /"component":"retention".*pruned 1 message/.test(l)),
    'and the relay says so'
  )
  await app.close()
})
