import t from 'tap'
import { FakeRelay } from '../helpers/fake-relay.js'
import { post, seed, testApp } from '../helpers/app.js'
import { scrape } from './samples.js'

t.test('two apps in one process count apart', async t => {
  const first = await testApp(t, { relays: new Map([['fake', new FakeRelay()]]) })
  const second = await testApp(t, { relays: new Map([['fake', new FakeRelay()]]) })
  await post(first, seed({ message_id: 'a1' }))
  await post(first, seed({ message_id: 'a2' }))
  await post(second, seed({ message_id: 'b1' }))
  await first.relay.dispatcher.drain()

  const a = await scrape(first)
  const b = await scrape(second)
  t.equal(a.value('gptbots_relay_messages_received_total', { source: 'default', type: 'ANSWER' }), 2)
  t.equal(b.value('gptbots_relay_messages_received_total', { source: 'default', type: 'ANSWER' }), 1)
  t.equal(a.value('gptbots_relay_delivery_attempts_total', { relay: 'fake', outcome: 'delivered' }), 2)
  t.equal(
    b.value('gptbots_relay_delivery_attempts_total', { relay: 'fake', outcome: 'delivered' }),
    undefined,
    'the second app delivered nothing'
  )
  t.equal(a.value('gptbots_relay_outbox_pending', { relay: 'fake' }), 0)
  t.equal(b.value('gptbots_relay_outbox_pending', { relay: 'fake' }), 1)
  t.equal(b.all('process_cpu_user_seconds_total').length, 1, 'process metrics in each registry, once')
})
