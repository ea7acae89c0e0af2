import { pino } from 'pino'
import t from 'tap'
import { ManualClock } from '../helpers/clock.js'
import type { DeliveryOutcome } from '../../src/relays/types.js'
import { FakeRelay } from '../helpers/fake-relay.js'
import { post, seed, testApp } from '../helpers/app.js'
import { scrape } from './samples.js'

t.test('outbox gauges are read at scrape time: pending and dead per relay, and the oldest pending age', async t => {
  const clock = new ManualClock()
  let flakyScript = (id: string): DeliveryOutcome =>
    id === 'm2' ? { status: 'failed', error: 'channel_not_found' } : { status: 'retry', error: 'HTTP 503' }
  const flaky = new FakeRelay(message => flakyScript(message.messageId))
  const fine = new FakeRelay()
  const app = await testApp(t, {
    relays: new Map([
      ['flaky', flaky],
      ['fine', fine]
    ]),
    clock,
    random: () => 1,
    config: { dispatch: { backoffBaseMs: 1000, backoffMaxMs: 1000 } }
  })
  const gauges = async () => {
    const s = await scrape(app)
    return {
      pending: Object.fromEntries(s.all('gptbots_relay_outbox_pending').map(x => [x.labels.relay, x.value])),
      dead: Object.fromEntries(s.all('gptbots_relay_dead_letters').map(x => [x.labels.relay, x.value])),
      oldest: s.value('gptbots_relay_outbox_oldest_pending_age_seconds')
    }
  }

  t.same(
    await gauges(),
    { pending: { flaky: 0, fine: 0 }, dead: { flaky: 0, fine: 0 }, oldest: 0 },
    'every configured relay shows 0 when idle'
  )

  await post(app, seed({ message_id: 'm1', conversation_id: 'c1' }))
  clock.advance(2000)
  await post(app, seed({ message_id: 'm2', conversation_id: 'c2' }))
  clock.advance(3000)
  t.same(await gauges(), { pending: { flaky: 2, fine: 2 }, dead: { flaky: 0, fine: 0 }, oldest: 5 }, 'before delivery')

  await app.relay.dispatcher.drain()
  t.same(
    await gauges(),
    { pending: { flaky: 1, fine: 0 }, dead: { flaky: 1, fine: 0 }, oldest: 5 },
    'm1 waits for a retry, m2 is a dead letter'
  )

  clock.advance(500)
  t.equal((await gauges()).oldest, 5.5, 'the age grows between scrapes without any delivery')

  flakyScript = () => ({ status: 'delivered' })
  clock.advance(1000)
  await app.relay.dispatcher.drain()
  t.same(
    await gauges(),
    { pending: { flaky: 0, fine: 0 }, dead: { flaky: 1, fine: 0 }, oldest: 0 },
    'all delivered; the dead letter stays'
  )
})

t.test('a store that cannot be read leaves the outbox gauges out, not the scrape', async t => {
  const lines: string[] = []
  const app = await testApp(t, {
    relays: new Map([['fake', new FakeRelay()]]),
    logger: pino(
      { level: 'error' },
      {
        write: (line: string) => {
          lines.push(line)
        }
      }
    )
  })
  await post(app, seed())
  const store = app.relay.store
  const backlog = store.backlog.bind(store)
  let reads = 0
  let broken = true
  store.backlog = async () => {
    reads++
    if (broken) throw new Error('database is locked')
    return backlog()
  }

  let s = await scrape(app)
  t.same(s.all('gptbots_relay_outbox_pending'), [], 'no stale or made-up values')
  t.same(s.all('gptbots_relay_dead_letters'), [])
  t.equal(s.value('gptbots_relay_outbox_oldest_pending_age_seconds'), undefined, 'not a misleading 0')
  t.match(s.text, /# TYPE gptbots_relay_outbox_pending gauge/)
  t.equal(s.value('gptbots_relay_backlog_read_errors_total'), 1)
  t.equal(
    s.value('gptbots_relay_messages_received_total', { source: 'default', type: 'ANSWER' }),
    1,
    'the rest of the scrape is there'
  )
  t.equal(reads, 1, 'one store read per scrape, shared by the three gauges')
  t.equal(lines.length, 1)
  t.match(JSON.parse(lines[0]!), { msg: /could not read the outbox backlog/, err: { message: 'database is locked' } })

  broken = false
  s = await scrape(app)
  t.equal(s.value('gptbots_relay_outbox_pending', { relay: 'fake' }), 1, 'back once the store answers')
  t.equal(s.value('gptbots_relay_backlog_read_errors_total'), 1)
  t.equal(reads, 2)
})
