import t from 'tap'
import { ManualClock } from '../helpers/clock.js'
import { defaultLeaseMs, Dispatcher } from '../../src/dispatch/dispatcher.js'
import type { RelayMessage } from '../../src/message.js'
import { SqliteStore } from '../../src/store/sqlite.js'
import { FakeRelay } from '../helpers/fake-relay.js'
import { until } from '../helpers/process.js'
import { claimLanes } from '../helpers/outbox-steps.js'

// Leases are short so that a dead replica's conversations move on within seconds; a heartbeat
// renews them while a delivery runs, so a live replica keeps its lane however slow the delivery.

const silent = { debug() {}, info() {}, warn() {}, error() {} }

function message(id: string, receivedAt: number): RelayMessage {
  return {
    source: 'default',
    messageId: id,
    conversationId: 'c1',
    type: 'ANSWER',
    text: id,
    flowOutput: [],
    createdAt: receivedAt,
    receivedAt,
    format: 'v1'
  }
}

const policy = {
  concurrency: 4,
  maxAttempts: 3,
  backoffBaseMs: 100,
  backoffMaxMs: 1000,
  deliveryTimeoutMs: 600_000,
  pollIntervalMs: 50
}

t.test('the default lease lets a dead replica’s conversations move on within seconds', async t => {
  t.ok(defaultLeaseMs <= 6000, `default lease ${defaultLeaseMs} ms`)
})

t.test('a delivery slower than many leases keeps its lane: the heartbeat renews it', async t => {
  const clock = new ManualClock()
  const store = new SqliteStore({ path: ':memory:' })
  t.teardown(() => store.close())
  await store.accept(message('m1', clock.now()), ['fake'])
  let finish: () => void = () => {}
  const relay = new FakeRelay(
    () =>
      new Promise(resolve => {
        finish = () => resolve({ status: 'delivered' })
      })
  )
  const leaseMs = 1000
  const dispatcher = new Dispatcher({
    ...policy,
    store,
    relays: new Map([['fake', relay]]),
    logger: silent,
    clock,
    leaseMs,
    owner: 'alive'
  })
  dispatcher.start()
  t.teardown(() => dispatcher.stop(100))
  t.ok(await until(() => relay.attempts.length === 1), 'the delivery started')

  // Ten leases' worth of (manual) time, in steps shorter than one: after each, the heartbeat must
  // have pushed the lease past the new now before another replica looks.
  for (let step = 0; step < 12; step++) {
    clock.advance(800)
    const renewed = await until(async () => ((await store.nextDueAt(['fake'], clock.now())) ?? 0) > clock.now())
    t.ok(renewed, `step ${step}: the lease was renewed`)
    const taken = await claimLanes(store, { owner: 'other', now: clock.now(), limit: 10, leaseMs, relays: ['fake'] })
    t.same(taken, [], `step ${step}: another replica cannot take the lane`)
  }
  finish()
  t.ok(await until(() => relay.delivered.length === 1), 'the slow delivery is recorded by its replica')
  t.equal(relay.attempts.length, 1, 'and was never attempted again')
  t.same(await store.pendingByRelay(), {})
})
