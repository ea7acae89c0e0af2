import t from 'tap'
import type { Test } from 'tap'
import { Dispatcher, type DispatcherOptions } from '../../src/dispatch/dispatcher.js'
import { openPostgresStore } from '../../src/store/postgres.js'
import { FakeRelay } from '../helpers/fake-relay.js'
import { postgresOrSkip } from '../helpers/postgres.js'
import { until } from '../helpers/process.js'
import { message } from './fixtures/store.js'

// Two replicas on one schema: a message taken by one wakes the other's dispatcher through
// LISTEN/NOTIFY, so neither waits for its poll, whichever replica GPTBots happened to reach.

const db = await postgresOrSkip(t)

const silent = { debug() {}, info() {}, warn() {}, error() {} }

/**
 * A replica's dispatcher on `store`, delivering for one relay. Its poll is far longer than a test
 * may take: only a notification can make it look in time.
 */
function startDispatcher(t: Test, store: DispatcherOptions['store'], name: string, relay: FakeRelay): Dispatcher {
  const dispatcher = new Dispatcher({
    store,
    relays: new Map([[name, relay]]),
    logger: silent,
    concurrency: 4,
    maxAttempts: 3,
    backoffBaseMs: 100,
    backoffMaxMs: 1000,
    deliveryTimeoutMs: 5000,
    pollIntervalMs: 600_000
  })
  dispatcher.start()
  t.teardown(() => dispatcher.stop(1000))
  return dispatcher
}

if (db) {
  t.test('a message stored by one replica is delivered by another at once, not at its next poll', async t => {
    const schema = await db.schema(t, { create: false })
    const intake = await openPostgresStore({ url: db.url, schema, poolSize: 2 })
    const delivering = await openPostgresStore({ url: db.url, schema, poolSize: 2 })
    t.teardown(async () => {
      await intake.close()
      await delivering.close()
    })
    const relay = new FakeRelay()
    startDispatcher(t, delivering, 'slack', relay)
    for (let n = 0; n < 3; n++) {
      await intake.accept(message({ messageId: `m${n}`, receivedAt: Date.now() }), ['slack'])
      t.ok(
        await until(() => relay.delivered.length === n + 1, 10_000),
        `message ${n}, stored by the other replica, was delivered`
      )
    }
  })

  t.test('a replica is not woken by its own messages, and stops listening when it closes', async t => {
    const schema = await db.schema(t, { create: false })
    const a = await openPostgresStore({ url: db.url, schema, poolSize: 2 })
    const b = await openPostgresStore({ url: db.url, schema, poolSize: 2 })
    t.teardown(async () => {
      await a.close()
      await b.close()
    })
    let wokenA = 0
    let wokenB = 0
    const stopA = a.watch(() => wokenA++)
    b.watch(() => wokenB++)
    // Each wakes once when its listener connects (notifications may have been missed before).
    t.ok(await until(() => wokenA >= 1 && wokenB >= 1), 'both listen')
    const [beforeA, beforeB] = [wokenA, wokenB]
    await a.accept(message({ messageId: 'from-a', receivedAt: Date.now() }), ['slack'])
    t.ok(await until(() => wokenB > beforeB), 'b heard of a’s message')
    t.equal(wokenA, beforeA, 'a was not woken by its own message')
    stopA()
    await b.accept(message({ messageId: 'from-b', receivedAt: Date.now() }), ['slack'])
    t.ok(await until(() => wokenB > beforeB), 'b goes on')
    t.equal(wokenA, beforeA, 'a no longer listens')
  })

  t.test('a flood of notifications costs a replica a few looks at the store, not one each', async t => {
    const schema = await db.schema(t, { create: false })
    const intake = await openPostgresStore({ url: db.url, schema, poolSize: 2 })
    const other = await openPostgresStore({ url: db.url, schema, poolSize: 2 })
    t.teardown(async () => {
      await intake.close()
      await other.close()
    })
    // The other replica's relay is not the one the messages are for: each look finds nothing to
    // claim, so every claim it makes was a wake-up's.
    let claims = 0
    const counting = Object.assign(Object.create(other) as typeof other, {
      claimRuns: (...args: Parameters<typeof other.claimRuns>) => {
        claims++
        return other.claimRuns(...args)
      },
      watch: (wake: () => void) => other.watch(wake)
    })
    startDispatcher(t, counting, 'discord', new FakeRelay())
    await until(() => claims > 0)
    const began = Date.now()
    const before = claims
    let n = 0
    // One message per statement, each its own notification, for a second.
    while (Date.now() - began < 1000) await intake.accept(message({ messageId: `flood-${n++}` }), ['slack'])
    await new Promise(resolve => setTimeout(resolve, 200))
    const looks = claims - before
    const seconds = (Date.now() - began) / 1000
    t.comment(`${n} notifications in ${seconds.toFixed(2)} s woke ${looks} claims`)
    t.ok(n >= 50, `the flood was a flood (${n} notifications)`)
    // At most one look per 50 ms, plus the last one after the flood.
    t.ok(looks <= Math.ceil(seconds * 20) + 2, `looks stay bounded by the gap (${looks})`)
    t.ok(looks >= 2, 'but the replica did look')
  })
}
