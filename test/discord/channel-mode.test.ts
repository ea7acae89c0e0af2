import { systemClock } from '../../src/clock.js'
import t from 'tap'
import plugin from '../../plugins/discord/index.js'
import { memoryState } from '../helpers/memory-state.js'
import { ChannelType, FakeDiscord } from '../fakes/discord.js'
import { deliveryContext, recordingLogger, relayMessage } from '../helpers/relay.js'
import { deliverInTurn, deliverOne } from '../../src/relays/run-adapter.js'

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
    const outcome = await deliverOne(
      relay,
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
  const outcome = await deliverOne(
    relay,
    relayMessage({ conversationId: 'long', text }),
    deliveryContext(memoryState())
  )
  t.equal(outcome.status, 'delivered')
  const parts = fake.messagesIn(channel.id)
  t.ok(parts.length >= 3)
  t.ok(parts.every(m => m.content!.startsWith('**🤖 GPTBots** · conversation `long`\n') && m.content!.length <= 2000))
  // Since #14 a cut drops its line break (the parts are written from the tree): join them with one.
  t.equal(parts.map(m => m.content!.replace(/^.*\n/, '')).join('\n'), text, 'the parts join back into the text')
})

t.test(
  "one channel's bucket is shared in turns: no post meets the bucket's limit, and a newcomer is not held up",
  async t => {
    // Discord's bucket for the channel, 5 posts per 5 s, as every conversation in channel mode shares it.
    const limited = await new FakeDiscord({ bucketLimit: 5, bucketWindowMs: 5000 }).start()
    t.teardown(() => limited.close())
    const channel = limited.addChannel(ChannelType.Text)
    const relay = await plugin.create(
      { token: limited.token, channel: channel.id, mode: 'channel', apiUrl: limited.api },
      { name: 'discord.channel', logger: recordingLogger(), configDir: '.', clock: systemClock }
    )
    const chatty = memoryState()
    // One lane at a time per conversation, as the dispatcher runs them: the chatty one posts six in a
    // row. Unpaced, the bucket's limit turned its fifth and sixth posts into retries (the
    // dispatcher's backoff: 49 s p95 lag in bench/busy-channel.ts discord-channel).
    const backlog = (async () => {
      for (let n = 1; n <= 6; n++) {
        const message = relayMessage({ conversationId: 'chatty', messageId: `c${n}`, text: `chatty ${n}` })
        t.equal((await deliverInTurn(relay, message, deliveryContext(chatty))).status, 'delivered')
      }
    })()
    while (limited.messagesIn(channel.id).length < 1) await new Promise(resolve => setTimeout(resolve, 10))
    const newcomer = relayMessage({ conversationId: 'new', messageId: 'n1', text: 'newcomer' })
    const state = memoryState()
    t.equal((await deliverInTurn(relay, newcomer, deliveryContext(state))).status, 'delivered')
    const position = limited.messagesIn(channel.id).findIndex(m => m.content?.endsWith('newcomer'))
    t.ok(position >= 1 && position <= 2, `the newcomer went second or third, not behind the backlog (${position + 1})`)
    await backlog
    t.same(
      limited
        .messagesIn(channel.id)
        .map(m => m.content?.split('\n')[1])
        .filter(text => text?.startsWith('chatty')),
      ['chatty 1', 'chatty 2', 'chatty 3', 'chatty 4', 'chatty 5', 'chatty 6'],
      'the chatty conversation stays in order'
    )
    t.equal(
      limited.requests.filter(r => r.status === 429).length,
      0,
      'never over the bucket: no 429 for the REST client to wait out'
    )
  }
)
