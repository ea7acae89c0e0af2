import t from 'tap'
import { ManualClock } from '../helpers/clock.js'
import type { RelayMessage } from '../../src/message.js'
import type { DeliveryContext, DeliveryOutcome, Relay, SingleRelay } from '../../src/relays/types.js'
import { FakeRelay } from '../helpers/fake-relay.js'
import { post, seed, testApp } from '../helpers/app.js'
import { scrape } from './samples.js'

/** A relay that knows its channels: it remembers the oldest message waiting for each until it is posted. */
class ChannelRelay implements SingleRelay {
  readonly waiting = new Map<string, number>()
  up = false
  async deliver(message: RelayMessage, _context: DeliveryContext): Promise<DeliveryOutcome> {
    const channel = message.conversationId === 'c1' ? 'C-general' : 'C-support'
    if (!this.up) {
      this.waiting.set(channel, Math.min(this.waiting.get(channel) ?? message.receivedAt, message.receivedAt))
      return { status: 'retry', error: 'HTTP 503' }
    }
    this.waiting.delete(channel)
    return { status: 'delivered', posted: { channel } }
  }
  channelLag(): ReadonlyMap<string, number> {
    return this.waiting
  }
}

t.test('/metrics: the lag of each relay from the store, and of each channel a relay reports', async t => {
  const clock = new ManualClock()
  const channels = new ChannelRelay()
  const app = await testApp(t, {
    relays: new Map<string, Relay>([
      ['chat', channels],
      ['fine', new FakeRelay()]
    ]),
    clock,
    random: () => 1,
    config: { dispatch: { backoffBaseMs: 1000, backoffMaxMs: 1000 } }
  })
  const lag = async () => {
    const s = await scrape(app)
    return {
      relay: Object.fromEntries(s.all('gptbots_relay_lag_seconds').map(x => [x.labels.relay, x.value])),
      channel: s
        .all('gptbots_relay_channel_lag_seconds')
        .map(x => [x.labels.relay, x.labels.channel, x.value])
        .sort()
    }
  }
  t.strictSame(await lag(), { relay: { chat: 0, fine: 0 }, channel: [] }, 'idle: 0 per relay, no channel')

  await post(app, seed({ message_id: 'm1', conversation_id: 'c1' }))
  clock.advance(2000)
  await post(app, seed({ message_id: 'm2', conversation_id: 'c2' }))
  clock.advance(3000)
  await app.relay.dispatcher.drain()
  t.strictSame(
    await lag(),
    {
      relay: { chat: 5, fine: 0 },
      channel: [
        ['chat', 'C-general', 5],
        ['chat', 'C-support', 3]
      ]
    },
    'the lag beside the end-to-end latency'
  )
  const text = (await scrape(app)).text
  t.match(text, /# TYPE gptbots_relay_delivery_latency_seconds histogram/)

  channels.up = true
  clock.advance(1000)
  await app.relay.dispatcher.drain()
  t.strictSame(await lag(), { relay: { chat: 0, fine: 0 }, channel: [] }, 'caught up')
})
