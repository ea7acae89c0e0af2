import t from 'tap'
import type { DeliveryOutcome } from '../../src/relays/types.js'
import { FakeRelay } from '../helpers/fake-relay.js'
import { post, seed, testApp } from '../helpers/app.js'

const tick = () => new Promise(resolve => setTimeout(resolve, Math.random() * 3))

t.test('each conversation is delivered in arrival order under concurrent intake and parallel delivery', async t => {
  // Slow, jittery deliveries so that lanes really overlap.
  const relay = new FakeRelay(async () => {
    await tick()
    return { status: 'delivered' }
  })
  const app = await testApp(t, { relays: new Map([['fake', relay]]), config: { dispatch: { concurrency: 8 } } })
  const conversations = Array.from({ length: 12 }, (_, i) => `conv-${i}`)
  const perConversation = 25
  const acked = new Map<string, string[]>(conversations.map(c => [c, []]))
  // Within a conversation GPTBots sends one message after another; conversations interleave.
  await Promise.all(
    conversations.map(async conversation => {
      for (let n = 0; n < perConversation; n++) {
        const id = `${conversation}-m${n}`
        const res = await post(app, seed({ conversation_id: conversation, message_id: id }))
        t.equal(res.statusCode, 200)
        acked.get(conversation)!.push(id)
      }
    })
  )
  let active = 0
  let peak = 0
  const lanes = new Set<string>()
  relay.script = async message => {
    t.notOk(lanes.has(message.conversationId), 'never two deliveries of one conversation at once')
    lanes.add(message.conversationId)
    peak = Math.max(peak, ++active)
    await tick()
    active--
    lanes.delete(message.conversationId)
    return { status: 'delivered' }
  }
  await app.relay.dispatcher.drain()
  for (const conversation of conversations)
    t.same(relay.idsOf(conversation), acked.get(conversation), `${conversation} in order`)
  t.ok(peak > 1, `conversations were delivered in parallel (peak ${peak})`)
  t.ok(peak <= 8, 'within the concurrency bound')
})

t.test('a failing conversation waits; the others go on', async t => {
  const relay = new FakeRelay(message =>
    message.conversationId === 'stuck'
      ? ({ status: 'retry', error: 'platform down' } satisfies DeliveryOutcome)
      : { status: 'delivered' }
  )
  const app = await testApp(t, { relays: new Map([['fake', relay]]) })
  await post(app, seed({ conversation_id: 'stuck', message_id: 's1' }))
  await post(app, seed({ conversation_id: 'stuck', message_id: 's2' }))
  await post(app, seed({ conversation_id: 'fine', message_id: 'f1' }))
  await post(app, seed({ conversation_id: 'fine', message_id: 'f2' }))
  await app.relay.dispatcher.drain()
  t.same(relay.idsOf('fine'), ['f1', 'f2'])
  t.same(
    relay.attempts.filter(a => a.message.conversationId === 'stuck').map(a => a.message.messageId),
    ['s1'],
    's2 waits behind s1'
  )
})

t.test('the background dispatcher delivers as soon as a message is stored', async t => {
  const relay = new FakeRelay()
  const app = await testApp(t, {
    relays: new Map([['fake', relay]]),
    dispatch: 'background',
    config: { dispatch: { pollIntervalMs: 60000 } }
  })
  await app.ready()
  await post(app, seed())
  const started = Date.now()
  while (relay.delivered.length === 0 && Date.now() - started < 5000)
    await new Promise(resolve => setTimeout(resolve, 5))
  t.equal(relay.delivered.length, 1, 'delivered without waiting for the (one minute) poll')
})
