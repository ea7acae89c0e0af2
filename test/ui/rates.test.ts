import { Counter, Registry } from 'prom-client'
import t from 'tap'
import { ManualClock } from '../helpers/clock.js'
import { counterBy, DeliveredPerMinute } from '../../src/ui/rates.js'

const MINUTE = 60_000

function setup() {
  const registry = new Registry()
  const attempts = new Counter({
    name: 'gptbots_relay_delivery_attempts_total',
    help: 'test',
    labelNames: ['relay', 'outcome'] as const,
    registers: [registry]
  })
  const clock = new ManualClock(Date.UTC(2026, 0, 1, 12, 0, 0))
  return { registry, attempts, clock, rates: new DeliveredPerMinute(registry, clock, 5) }
}

t.test('delivered per minute: what the counter moved in each minute, for the last minutes only', async t => {
  const { attempts, clock, rates } = setup()
  await rates.sample()
  attempts.inc({ relay: 'slack', outcome: 'delivered' }, 3)
  attempts.inc({ relay: 'slack', outcome: 'retry' }, 7)
  await rates.sample()
  attempts.inc({ relay: 'slack', outcome: 'delivered' }, 2)
  clock.advance(MINUTE)
  await rates.sample()
  clock.advance(2 * MINUTE)
  attempts.inc({ relay: 'slack', outcome: 'delivered' }, 4)
  attempts.inc({ relay: 'discord', outcome: 'delivered' }, 1)
  await rates.sample()
  t.same(rates.series('slack'), [0, 0, 3, 2, 0, 4].slice(-5), 'oldest first; retries are not deliveries')
  t.same(rates.series('discord'), [0, 0, 0, 0, 1], 'a relay first seen later counts from zero')
  t.same(rates.series('nobody'), [0, 0, 0, 0, 0])
  clock.advance(10 * MINUTE)
  await rates.sample()
  t.same(rates.series('slack'), [0, 0, 0, 0, 0], 'old minutes fall out')
})

t.test('without a registry (metrics off) there is nothing to show', async t => {
  const rates = new DeliveredPerMinute(undefined, new ManualClock())
  t.equal(rates.available, false)
  await rates.sample()
  t.equal(await counterBy(undefined, 'gptbots_relay_delivery_attempts_total', 'relay'), undefined)
})
