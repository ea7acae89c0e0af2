import t from 'tap'
import { Dispatcher } from '../../src/dispatch/dispatcher.js'
import type { RelayMessage } from '../../src/message.js'
import type { DeliveryContext, RelayTurn, RunContext, RunOutcome, RunRelay } from '../../src/relays/types.js'
import { SqliteStore } from '../../src/store/sqlite.js'
import { ManualClock } from '../helpers/clock.js'
import { headOf } from '../helpers/outbox-steps.js'

// A relay's turn (its platform slot for a conversation's next post) is taken before the one relay
// call it is for, handed to that call, and given back in `finally`: also when the store then has
// nothing to send, and never held from one call to the next.

const silent = { debug() {}, info() {}, warn() {}, error() {} }
const T = 1_700_000_000_000

function message(id: string, conversationId = 'c1'): RelayMessage {
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

interface CountedTurn extends RelayTurn {
  id: number
}

/** A relay that takes turns and tells which turns are out, and what each call was given. */
class TurnRelay implements RunRelay<CountedTurn> {
  readonly runLimits = { maxMessages: 10 }
  readonly out = new Set<number>()
  readonly calls: { ids: string[]; turn?: number; outWhileCalled: number }[] = []
  taken = 0
  /** Runs while the turn is awaited, before it is given. */
  whileWaiting: (head: RelayMessage) => Promise<void> = async () => {}

  async takeTurn(head: RelayMessage, _context: DeliveryContext): Promise<CountedTurn> {
    await this.whileWaiting(head)
    const id = ++this.taken
    this.out.add(id)
    return { id, release: () => this.out.delete(id) }
  }

  async deliverRun(messages: RelayMessage[], context: RunContext<CountedTurn>): Promise<RunOutcome> {
    this.calls.push({ ids: messages.map(m => m.messageId), turn: context.turn?.id, outWhileCalled: this.out.size })
    return { delivered: messages.slice(0, 1).map(() => ({})) }
  }
}

function dispatcherFor(store: SqliteStore, relay: TurnRelay): Dispatcher {
  return new Dispatcher({
    store,
    relays: new Map([['paced', relay]]),
    logger: silent,
    clock: new ManualClock(T),
    concurrency: 2,
    maxAttempts: 3,
    backoffBaseMs: 100,
    backoffMaxMs: 1000,
    deliveryTimeoutMs: 5000,
    pollIntervalMs: 60_000
  })
}

t.test('each call has a turn of its own, given back when the call is over', async t => {
  const store = new SqliteStore({ path: ':memory:' })
  t.teardown(() => store.close())
  for (const id of ['m1', 'm2', 'm3']) await store.accept(message(id), ['paced'])
  const relay = new TurnRelay()
  await dispatcherFor(store, relay).drain()
  t.strictSame(
    relay.calls.map(c => c.ids[0]),
    ['m1', 'm2', 'm3'],
    'one message per call (the relay posts the head alone), in order'
  )
  t.strictSame(
    relay.calls.map(c => c.turn),
    [1, 2, 3],
    'each call is handed the turn taken for it'
  )
  t.strictSame(
    relay.calls.map(c => c.outWhileCalled),
    [1, 1, 1],
    'only its own turn is out during a call: none is held over from the call before'
  )
  t.equal(relay.out.size, 0, 'every turn was given back')
})

t.test('messages that arrive while the lane waits for its turn go in the same call', async t => {
  const store = new SqliteStore({ path: ':memory:' })
  t.teardown(() => store.close())
  await store.accept(message('m1'), ['paced'])
  const relay = new TurnRelay()
  let once = true
  relay.whileWaiting = async () => {
    if (!once) return
    once = false
    await store.accept(message('m2'), ['paced'])
  }
  await dispatcherFor(store, relay).drain()
  t.strictSame(relay.calls[0]?.ids, ['m1', 'm2'], 'the run was read after the turn came')
  t.equal(relay.out.size, 0)
})

t.test('a turn is given back when the store has nothing to send after it', async t => {
  const store = new SqliteStore({ path: ':memory:' })
  t.teardown(() => store.close())
  await store.accept(message('m1'), ['paced'])
  const relay = new TurnRelay()
  // While the turn is awaited, the message goes out some other way (another replica that held the lane before).
  relay.whileWaiting = async () => {
    const head = await headOf(store, 1)
    if (head) await store.recordRun({ delivered: [{ delivery: head }] }, 'another replica', T, 1)
  }
  await dispatcherFor(store, relay).drain()
  t.equal(relay.taken, 1, 'a turn was taken')
  t.equal(relay.calls.length, 0, 'nothing was left to deliver')
  t.equal(relay.out.size, 0, 'and the turn was given back all the same')
})
