import t, { type Test } from 'tap'
import { backoffDelay } from '../../src/dispatch/backoff.js'
import { ManualClock } from '../helpers/clock.js'
import type { DeliveryOutcome } from '../../src/relays/types.js'
import { FakeRelay } from '../helpers/fake-relay.js'
import { post, seed, testApp } from '../helpers/app.js'

const policy = { baseMs: 1000, maxMs: 60000 }

t.test('backoff doubles per failure, stays under the cap, and jitters within [half, full]', async t => {
  t.equal(
    backoffDelay(1, policy, () => 0),
    500
  )
  t.equal(
    backoffDelay(1, policy, () => 1),
    1000
  )
  t.equal(
    backoffDelay(2, policy, () => 1),
    2000
  )
  t.equal(
    backoffDelay(5, policy, () => 1),
    16000
  )
  t.equal(
    backoffDelay(10, policy, () => 1),
    60000,
    'capped'
  )
  t.equal(
    backoffDelay(40, policy, () => 0),
    30000,
    'capped, still jittered'
  )
  const samples = Array.from({ length: 200 }, () => backoffDelay(3, policy))
  t.ok(samples.every(d => d >= 2000 && d <= 4000))
  t.ok(new Set(samples).size > 20, 'jitter spreads retries')
})

/** An app on a manual clock whose dispatcher is driven by hand, with predictable jitter (always the full delay). */
async function setup(t: Test, relay: FakeRelay, dispatch: Record<string, number> = {}) {
  const clock = new ManualClock()
  const app = await testApp(t, {
    relays: new Map([['fake', relay]]),
    clock,
    random: () => 1,
    config: { dispatch: { backoffBaseMs: 1000, backoffMaxMs: 8000, maxAttempts: 5, ...dispatch } }
  })
  return { app, clock }
}

t.test('a retryable failure backs off exponentially, then delivers', async t => {
  let failures = 2
  const relay = new FakeRelay(() =>
    failures-- > 0 ? { status: 'retry', error: 'HTTP 503' } : { status: 'delivered', posted: { id: 'p1' } }
  )
  const { app, clock } = await setup(t, relay)
  await post(app, seed())
  await app.relay.dispatcher.drain()
  t.equal(relay.attempts.length, 1)
  clock.advance(999)
  await app.relay.dispatcher.drain()
  t.equal(relay.attempts.length, 1, 'not before the first backoff (1 s)')
  clock.advance(1)
  await app.relay.dispatcher.drain()
  t.equal(relay.attempts.length, 2, 'second attempt after 1 s')
  clock.advance(1999)
  await app.relay.dispatcher.drain()
  t.equal(relay.attempts.length, 2, 'not before the second backoff (2 s)')
  clock.advance(1)
  await app.relay.dispatcher.drain()
  t.same(
    relay.attempts.map(a => a.attempt),
    [1, 2, 3],
    'the relay is told which attempt it is'
  )
  t.equal(relay.delivered.length, 1)
  const [record] = await app.relay.store.listDeliveries({})
  t.match(record, { status: 'delivered', attempts: 3, posted: { id: 'p1' }, lastError: 'HTTP 503' })
})

t.test('retry-after from the relay is honoured instead of the backoff', async t => {
  let first = true
  const relay = new FakeRelay(() => {
    if (!first) return { status: 'delivered' }
    first = false
    return { status: 'retry', error: 'rate limited', retryAfterMs: 7000 }
  })
  const { app, clock } = await setup(t, relay)
  await post(app, seed())
  await app.relay.dispatcher.drain()
  clock.advance(6999)
  await app.relay.dispatcher.drain()
  t.equal(relay.attempts.length, 1)
  clock.advance(1)
  await app.relay.dispatcher.drain()
  t.equal(relay.delivered.length, 1)
})

t.test('a thrown error is a retryable failure, with its cause kept', async t => {
  let first = true
  const relay = new FakeRelay(() => {
    if (!first) return { status: 'delivered' }
    first = false
    throw new Error('socket hang up', { cause: new Error('ECONNRESET') })
  })
  const { app, clock } = await setup(t, relay)
  await post(app, seed())
  await app.relay.dispatcher.drain()
  const [record] = await app.relay.store.listDeliveries({})
  t.match(record, { status: 'pending', attempts: 1, lastError: 'socket hang up: ECONNRESET' })
  clock.advance(1000)
  await app.relay.dispatcher.drain()
  t.equal(relay.delivered.length, 1)
})

t.test('a permanent failure is dead-lettered at once with its error, and the lane moves on', async t => {
  const relay = new FakeRelay(m =>
    m.messageId === 'bad' ? { status: 'failed', error: 'channel_not_found' } : { status: 'delivered' }
  )
  const { app } = await setup(t, relay)
  await post(app, seed({ message_id: 'bad' }))
  await post(app, seed({ message_id: 'next' }))
  await app.relay.dispatcher.drain()
  t.same(relay.idsOf('657303a8a764d47094874bbe'), ['next'])
  const dead = await app.relay.store.listDeliveries({ status: 'dead' })
  t.equal(dead.length, 1)
  t.match(dead[0], { messageId: 'bad', attempts: 1, lastError: 'channel_not_found', relay: 'fake' })
})

t.test('a delivery that exhausts its attempts is dead-lettered with its last error, and the lane moves on', async t => {
  const relay = new FakeRelay((m, ctx) =>
    m.messageId === 'flaky'
      ? ({ status: 'retry', error: `HTTP 502 #${ctx.attempt}` } satisfies DeliveryOutcome)
      : { status: 'delivered' }
  )
  const { app, clock } = await setup(t, relay)
  await post(app, seed({ message_id: 'flaky' }))
  await post(app, seed({ message_id: 'after' }))
  const waits: number[] = []
  for (let i = 0; i < 10 && relay.delivered.length === 0; i++) {
    await app.relay.dispatcher.drain()
    const due = await app.relay.store.nextDueAt(['fake'], clock.now())
    if (due === undefined) break
    waits.push(due - clock.now())
    clock.set(due)
  }
  await app.relay.dispatcher.drain()
  t.same(waits, [1000, 2000, 4000, 8000], 'backoff doubles up to the cap of 8 s')
  t.equal(relay.attempts.filter(a => a.message.messageId === 'flaky').length, 5, 'maxAttempts tries')
  t.same(relay.idsOf('657303a8a764d47094874bbe'), ['after'])
  const [dead] = await app.relay.store.listDeliveries({ status: 'dead' })
  t.match(dead, { messageId: 'flaky', attempts: 5, lastError: 'gave up after 5 attempts: HTTP 502 #5' })
})

t.test('a delivery that hangs is aborted after deliveryTimeoutMs and retried', async t => {
  let signalled = false
  let first = true
  const relay = new FakeRelay((_m, ctx) => {
    if (!first) return { status: 'delivered' }
    first = false
    return new Promise(() => {
      ctx.signal.addEventListener('abort', () => {
        signalled = true
      })
    })
  })
  const { app, clock } = await setup(t, relay, { deliveryTimeoutMs: 100 })
  await post(app, seed())
  await app.relay.dispatcher.drain()
  t.ok(signalled, 'the relay was told to stop')
  const [record] = await app.relay.store.listDeliveries({})
  t.match(record, { status: 'pending', lastError: 'delivery timed out after 100 ms' })
  clock.advance(1000)
  await app.relay.dispatcher.drain()
  t.equal(relay.delivered.length, 1)
})

t.test('each relay is its own lane: one relay failing does not hold back another', async t => {
  const down = new FakeRelay(() => ({ status: 'retry', error: 'down' }))
  const up = new FakeRelay()
  const clock = new ManualClock()
  const app = await testApp(t, {
    relays: new Map([
      ['down', down],
      ['up', up]
    ]),
    clock
  })
  await post(app, seed({ message_id: 'a' }))
  await post(app, seed({ message_id: 'b' }))
  await app.relay.dispatcher.drain()
  t.same(up.idsOf('657303a8a764d47094874bbe'), ['a', 'b'])
  t.equal(down.attempts.length, 1)
})
