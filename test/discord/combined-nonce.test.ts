import t from 'tap'
import plugin from '../../plugins/discord/index.js'
import { systemClock } from '../../src/clock.js'
import type { Relay } from '../../src/relays/types.js'
import { ChannelType, FakeDiscord } from '../fakes/discord.js'
import { memoryState } from '../helpers/memory-state.js'
import { deliveryContext, recordingLogger, relayMessage } from '../helpers/relay.js'
import { asRunRelay, deliverOne } from '../../src/relays/run-adapter.js'

/*
 * A post whose answer was lost, offered again with more messages behind it (a restart makes the
 * lane's run longer): the combined post takes its first message's nonce, so Discord gives back
 * the earlier post instead of the relay posting its first message a second time.
 */

const MESSAGES = 'POST /channels/:id/messages'
const fake = await new FakeDiscord().start()
t.teardown(() => fake.close())

async function relayIn(mode: 'channel' | 'thread'): Promise<{ relay: Relay; channel: string }> {
  const channel = fake.addChannel(ChannelType.Text)
  const relay = await plugin.create(
    { token: fake.token, channel: channel.id, mode, apiUrl: fake.api },
    { name: `discord.${mode}`, logger: recordingLogger(), configDir: '.', clock: systemClock }
  )
  return { relay, channel: channel.id }
}

const mentions = (contents: string[], text: string) => contents.filter(c => c.includes(text)).length

t.test('a message first posted alone, offered again with the next, is not posted twice', async t => {
  const { relay, channel } = await relayIn('channel')
  const state = memoryState()
  const [m1, m2] = [relayMessage({ text: 'first turn' }), relayMessage({ text: 'second turn' })]
  fake.failNext(1, { route: MESSAGES, match: channel, after: true, drop: true })
  t.equal((await deliverOne(relay, m1!, deliveryContext(state))).status, 'retry', 'the answer was lost')
  const again = await asRunRelay(relay).deliverRun([m1!, m2!], deliveryContext(state))
  t.equal(again.delivered.length, 1, 'Discord gave back the earlier post: the first message only')
  const last = await asRunRelay(relay).deliverRun([m2!], deliveryContext(state))
  t.equal(last.delivered.length, 1)
  const contents = fake.messagesIn(channel).map(m => m.content ?? '')
  t.equal(mentions(contents, 'first turn'), 1, 'the first message shows once')
  t.equal(mentions(contents, 'second turn'), 1, 'the second message shows once')
})

t.test('a combined post whose answer was lost, offered again with one more, delivers what it held', async t => {
  const { relay, channel } = await relayIn('thread')
  const state = memoryState()
  const ms = ['one', 'two', 'three'].map(text => relayMessage({ conversationId: 'c-held', text: `turn ${text}` }))
  fake.failNext(1, { route: MESSAGES, after: true, drop: true })
  t.equal((await asRunRelay(relay).deliverRun(ms.slice(0, 2), deliveryContext(state))).delivered.length, 0)
  const again = await asRunRelay(relay).deliverRun(ms, deliveryContext(state))
  t.equal(again.delivered.length, 2, 'the two messages the earlier post held')
  t.equal((await asRunRelay(relay).deliverRun(ms.slice(2), deliveryContext(state))).delivered.length, 1)
  const [thread] = fake.threadsOf(channel)
  const contents = fake.messagesIn(thread!.id).map(m => m.content ?? '')
  for (const text of ['turn one', 'turn two', 'turn three']) t.equal(mentions(contents, text), 1, `${text} once`)
})
