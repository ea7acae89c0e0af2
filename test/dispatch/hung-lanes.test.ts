import t from 'tap'
import { Dispatcher } from '../../src/dispatch/dispatcher.js'
import type { RelayMessage } from '../../src/message.js'
import { SqliteStore } from '../../src/store/sqlite.js'
import { FakeRelay } from '../helpers/fake-relay.js'
import { until } from '../helpers/process.js'

// Conversations whose deliveries hang (a platform that never answers for them) fill every slot;
// the others must not wait the whole delivery timeout for one.

const silent = { debug() {}, info() {}, warn() {}, error() {} }

function message(id: string, conversationId: string): RelayMessage {
  return {
    source: 'default',
    messageId: id,
    conversationId,
    type: 'ANSWER',
    text: id,
    flowOutput: [],
    createdAt: Date.now(),
    receivedAt: Date.now(),
    format: 'v1'
  }
}

t.test('hung conversations filling every slot do not hold up the others', async t => {
  const store = new SqliteStore({ path: ':memory:' })
  t.teardown(() => store.close())
  const concurrency = 3
  const hung: (() => void)[] = []
  const relay = new FakeRelay(message =>
    message.conversationId.startsWith('hung')
      ? new Promise(resolve => hung.push(() => resolve({ status: 'delivered' })))
      : { status: 'delivered' }
  )
  const dispatcher = new Dispatcher({
    store,
    relays: new Map([['fake', relay]]),
    logger: silent,
    concurrency,
    maxAttempts: 3,
    backoffBaseMs: 100,
    backoffMaxMs: 1000,
    // Far longer than the test may take: the others must not wait for it.
    deliveryTimeoutMs: 600_000,
    pollIntervalMs: 50,
    stallMs: 100
  })
  for (let c = 0; c < concurrency; c++) await store.accept(message(`h${c}`, `hung-${c}`), ['fake'])
  dispatcher.start()
  t.teardown(async () => {
    for (const release of hung) release()
    await dispatcher.stop(1000)
  })
  t.ok(await until(() => hung.length === concurrency), 'the hung conversations hold every slot')
  for (let n = 0; n < 5; n++) await store.accept(message(`ok${n}`, `fine-${n}`), ['fake'])
  dispatcher.notify()
  t.ok(await until(() => relay.delivered.length === 5, 10_000), 'the other conversations are delivered meanwhile')

  // More hung conversations than slots: they take at most as many again, never everything.
  for (let c = concurrency; c < 4 * concurrency; c++) await store.accept(message(`h${c}`, `hung-${c}`), ['fake'])
  dispatcher.notify()
  t.ok(await until(() => hung.length === 2 * concurrency), 'hung conversations take at most twice the slots')
  await new Promise(r => setTimeout(r, 500))
  t.equal(hung.length, 2 * concurrency, 'and no more')
  for (const release of hung.splice(0)) release()
  t.ok(await until(() => relay.delivered.length === 5 + 2 * concurrency), 'released, they are recorded')
})
