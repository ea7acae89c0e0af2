import t from 'tap'
import { Dispatcher } from '../../src/dispatch/dispatcher.js'
import type { RelayMessage } from '../../src/message.js'
import { SqliteStore } from '../../src/store/sqlite.js'
import { FakeRelay } from '../helpers/fake-relay.js'
import { until } from '../helpers/process.js'

const silent = { debug() {}, info() {}, warn() {}, error() {} }

function message(id: string): RelayMessage {
  return {
    source: 'default',
    messageId: id,
    conversationId: 'c1',
    type: 'ANSWER',
    text: id,
    flowOutput: [],
    createdAt: Date.now(),
    receivedAt: Date.now(),
    format: 'v1'
  }
}

t.test(
  'a message stored while the dispatcher is reading the store is delivered at once, not at the next poll',
  async t => {
    const store = new SqliteStore({ path: ':memory:' })
    const relay = new FakeRelay()
    const dispatcher = new Dispatcher({
      store,
      relays: new Map([['fake', relay]]),
      logger: silent,
      concurrency: 4,
      maxAttempts: 3,
      backoffBaseMs: 100,
      backoffMaxMs: 1000,
      deliveryTimeoutMs: 5000,
      // Far longer than the test may take: only a wake-up can deliver in time.
      pollIntervalMs: 60_000
    })
    // The message is stored and announced after the dispatcher has looked for work (its claim,
    // which also says when the next lane falls due) and before it sleeps: the window in which a
    // wake-up used to be lost.
    const claimRuns = store.claimRuns.bind(store)
    let first = true
    store.claimRuns = async options => {
      const claimed = await claimRuns(options)
      if (first) {
        first = false
        await store.accept(message('m1'), ['fake'])
        dispatcher.notify()
      }
      return claimed
    }
    dispatcher.start()
    t.teardown(async () => {
      await dispatcher.stop(1000)
      await store.close()
    })
    await until(() => relay.delivered.length === 1, 3000)
    t.same(
      relay.delivered.map(m => m.messageId),
      ['m1']
    )
  }
)
