import { systemClock } from '../../src/dispatch/clock.js'
import t from 'tap'
import plugin from '../../plugins/discord/index.js'
import { memoryState } from '../helpers/memory-state.js'
import { ChannelType, FakeDiscord, deliveryContext, recordingLogger, relayMessage } from '../fakes/discord.js'

const fake = await new FakeDiscord().start()
t.teardown(() => fake.close())

t.test('every message goes straight into the channel, marked with its conversation', async t => {
  const channel = fake.addChannel(ChannelType.Text)
  const relay = await plugin.create(
    { token: fake.token, channel: channel.id, mode: 'channel', apiUrl: fake.api },
    { name: 'discord.channel', logger: recordingLogger(), configDir: '.', clock: systemClock }
  )
  const turns = [
    ['c1', 'QUESTION', 'q one'],
    ['c2', 'QUESTION', 'q two'],
    ['c1', 'ANSWER', 'a one'],
    ['c2', 'ANSWER', 'a two']
  ] as const
  const states = { c1: memoryState(), c2: memoryState() }
  for (const [conversation, type, text] of turns) {
    const outcome = await relay.deliver(
      relayMessage({ conversationId: conversation, type, text }),
      deliveryContext(states[conversation])
    )
    t.equal(outcome.status, 'delivered')
  }
  t.equal(fake.threadsOf(channel.id).length, 0, 'no threads')
  t.same(
    fake.messagesIn(channel.id).map(m => m.content),
    [
      '**👤 User** · conversation `c1`\nq one',
      '**👤 User** · conversation `c2`\nq two',
      '**🤖 GPTBots** · conversation `c1`\na one',
      '**🤖 GPTBots** · conversation `c2`\na two'
    ]
  )
})

t.test('every part of a long message carries the mark, since conversations interleave', async t => {
  const channel = fake.addChannel(ChannelType.Text)
  const relay = await plugin.create(
    { token: fake.token, channel: channel.id, mode: 'channel', apiUrl: fake.api },
    { name: 'discord.channel', logger: recordingLogger(), configDir: '.', clock: systemClock }
  )
  const text = Array.from({ length: 120 }, (_, i) => `Line ${i} of a long answer that goes on.`).join('\n')
  const outcome = await relay.deliver(relayMessage({ conversationId: 'long', text }), deliveryContext(memoryState()))
  t.equal(outcome.status, 'delivered')
  const parts = fake.messagesIn(channel.id)
  t.ok(parts.length >= 3)
  t.ok(parts.every(m => m.content!.startsWith('**🤖 GPTBots** · conversation `long`\n') && m.content!.length <= 2000))
  // Since #14 a cut drops its line break (the parts are written from the tree): join them with one.
  t.equal(parts.map(m => m.content!.replace(/^.*\n/, '')).join('\n'), text, 'the parts join back into the text')
})
