import { ManualClock } from '../helpers/clock.js'
import t from 'tap'
import { Dispatcher } from '../../src/dispatch/dispatcher.js'
import type { RelayMessage } from '../../src/message.js'
import { SqliteStore } from '../../src/store/sqlite.js'
import type { Store } from '../../src/store/types.js'
import { FakeRelay } from '../helpers/fake-relay.js'
import { claimLanes } from '../helpers/outbox-steps.js'

const silent = { debug() {}, info() {}, warn() {}, error() {} }
const T = 1_700_000_000_000

function message(id: string, conversationId: string): RelayMessage {
  return {
    source: 'default',
    messageId: id,
    conversationId,
    type: 'ANSWER',
    text: id,
    flowOutput: [],
    createdAt: T,
    receivedAt: T,
    format: 'v1'
  }
}

/** The store with a tally of the calls the dispatcher makes: each is a round trip on PostgreSQL. */
function counted(store: SqliteStore): { store: Store; calls: Map<string, number> } {
  const calls = new Map<string, number>()
  const proxy = new Proxy(store, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver)
      if (typeof value !== 'function' || typeof name !== 'string') return value
      return (...args: unknown[]) => {
        calls.set(name, (calls.get(name) ?? 0) + 1)
        return value.apply(target, args)
      }
    }
  })
  return { store: proxy, calls }
}

t.test(
  'a lane costs no read of its own (the claim brings its run); each message one store call, which also releases the emptied lane',
  async t => {
    const sqlite = new SqliteStore({ path: ':memory:' })
    t.teardown(() => sqlite.close())
    for (let i = 0; i < 3; i++) await sqlite.accept(message(`a${i}`, 'a'), ['fake'])
    await sqlite.accept(message('b0', 'b'), ['fake'])
    // The last message of lane a dies, the rest are delivered: both outcomes move on the same way.
    const relay = new FakeRelay(m =>
      m.messageId === 'a2' ? { status: 'failed', error: 'rejected' } : { status: 'delivered' }
    )
    const { store, calls } = counted(sqlite)
    const dispatcher = new Dispatcher({
      store,
      relays: new Map([['fake', relay]]),
      logger: silent,
      clock: new ManualClock(T),
      concurrency: 4,
      maxAttempts: 3,
      backoffBaseMs: 100,
      backoffMaxMs: 1000,
      deliveryTimeoutMs: 5000,
      pollIntervalMs: 60_000
    })
    await dispatcher.drain()

    t.strictSame(relay.idsOf('a'), ['a0', 'a1'])
    t.strictSame(relay.idsOf('b'), ['b0'])
    t.strictSame(await sqlite.pendingByRelay(), {})
    t.equal(calls.get('claimRuns'), 2, 'one claim of both lanes with their runs, and one that finds nothing left')
    t.equal(calls.get('readRun'), undefined, 'no read of a lane: the claim brought its run')
    t.equal(calls.get('recordRun'), 4, 'one call per message')
    t.equal(calls.get('releaseLane'), undefined, 'no separate release of an emptied lane')
    const [lane] = await claimLanes(sqlite, { owner: 'other', now: T, limit: 10, leaseMs: 1000, relays: ['fake'] })
    t.equal(lane, undefined, 'nothing is left to claim')
    await sqlite.accept(message('a3', 'a'), ['fake'])
    const [again] = await claimLanes(sqlite, { owner: 'other', now: T, limit: 10, leaseMs: 1000, relays: ['fake'] })
    t.equal(again?.conversationId, 'a', 'the lane was released: another owner can claim its next message')
  }
)
