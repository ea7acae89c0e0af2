import t from 'tap'
import { ManualClock } from '../helpers/clock.js'
import { LagWatch, lagCheckEvery } from '../../src/dispatch/lag.js'
import type { RelayMessage } from '../../src/message.js'
import { SqliteStore } from '../../src/store/sqlite.js'
import { claimLanes, finishAndNext, headOf } from '../helpers/outbox-steps.js'

const T0 = Date.UTC(2026, 0, 1)

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

function capture() {
  const lines: { level: string; obj: Record<string, unknown>; msg: string }[] = []
  const at = (level: string) => (obj: object | string, msg?: string) => {
    lines.push(typeof obj === 'string' ? { level, obj: {}, msg: obj } : { level, obj: obj as never, msg: msg ?? '' })
  }
  return { lines, logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } }
}

t.test('warns once when a relay falls behind, and says once when it has caught up', async t => {
  const store = new SqliteStore({ path: ':memory:' })
  t.teardown(() => store.close())
  const clock = new ManualClock(T0)
  const { lines, logger } = capture()
  let threshold = 60_000
  const watch = new LagWatch({ store, relays: () => ['slack', 'discord'], thresholdMs: () => threshold, clock, logger })
  const said = () => lines.filter(l => l.level !== 'debug').map(l => [l.level, l.obj.relay, l.msg])

  await store.accept(message('m1', T0), ['slack'])
  await store.accept(message('m2', T0 + 30_000), ['slack'])
  clock.set(T0 + 60_000)
  await watch.check()
  t.strictSame(said(), [], 'at the threshold: not yet')

  clock.set(T0 + 60_001)
  await watch.check()
  await watch.check()
  t.strictSame(
    said(),
    [
      [
        'warn',
        'slack',
        'relay "slack" is behind: its oldest undelivered message has waited 60 s (dispatch.lagWarnMs is 60000 ms)'
      ]
    ],
    'once, for the relay behind only'
  )
  t.equal(lines[0]!.obj.lagMs, 60_001)

  // The oldest goes out: the next has waited 45 s, more than half the threshold: still behind.
  const [lane] = await claimLanes(store, { owner: 'x', now: clock.now(), limit: 1, leaseMs: 60_000, relays: ['slack'] })
  await finishAndNext(store, (await headOf(store, lane!.id))!, { status: 'delivered' }, 'x', clock.now())
  clock.set(T0 + 75_000)
  await watch.check()
  t.equal(said().length, 1, 'no flapping while above half the threshold')

  clock.set(T0 + 60_000)
  await watch.check()
  t.strictSame(said()[1], [
    'info',
    'slack',
    'relay "slack" has caught up: its oldest undelivered message has waited 30 s'
  ])
  await watch.check()
  t.equal(said().length, 2, 'recovery is said once')

  // Behind again, then the warning is turned off by a reload: the hold on it is let go.
  clock.set(T0 + 200_000)
  await watch.check()
  t.equal(said()[2]?.[0], 'warn', 'a new episode warns again')
  threshold = 0
  await watch.check()
  t.equal(said()[3]?.[0], 'info')
  await watch.check()
  t.equal(said().length, 4, 'off: nothing more')
})

t.test('nothing pending is no lag, and an unreadable store is not a lag either', async t => {
  const store = new SqliteStore({ path: ':memory:' })
  const clock = new ManualClock(T0)
  const { lines, logger } = capture()
  const watch = new LagWatch({ store, relays: () => ['slack'], thresholdMs: () => 1000, clock, logger })
  await watch.check()
  await store.close()
  await watch.check()
  t.strictSame(
    lines.map(l => l.level),
    ['debug']
  )
})

t.test('checks come at a quarter of the threshold, between 1 s and 15 s', async t => {
  t.equal(lagCheckEvery(300_000), 15_000)
  t.equal(lagCheckEvery(8000), 2000)
  t.equal(lagCheckEvery(100), 1000)
})
