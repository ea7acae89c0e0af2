import { systemClock } from '../../src/clock.js'
import t from 'tap'
import plugin from '../../plugins/discord/index.js'
import { memoryState } from '../helpers/memory-state.js'
import { ChannelType, FakeDiscord } from '../fakes/discord.js'
import { deliveryContext, recordingLogger, relayMessage } from '../helpers/relay.js'
import { deliverOne } from '../../src/relays/run-adapter.js'

const fake = await new FakeDiscord().start()
t.teardown(() => fake.close())

t.test('each conversation becomes one forum post, made with its first message', async t => {
  const forum = fake.addChannel(ChannelType.Forum)
  const relay = await plugin.create(
    { token: fake.token, channel: forum.id, mode: 'forum', apiUrl: fake.api },
    { name: 'discord.forum', logger: recordingLogger(), configDir: '.', clock: systemClock }
  )
  const states = { a: memoryState(), b: memoryState() }
  const turns = [
    ['a', 'first A'],
    ['b', 'first B'],
    ['a', 'second A'],
    ['b', 'second B'],
    ['b', 'third B']
  ] as const
  for (const [conversation, text] of turns) {
    const outcome = await deliverOne(
      relay,
      relayMessage({ conversationId: `forum-${conversation}`, text }),
      deliveryContext(states[conversation])
    )
    t.equal(outcome.status, 'delivered', text)
  }
  const posts = fake.threadsOf(forum.id)
  t.same(posts.map(p => p.name).sort(), ['GPTBots forum-a', 'GPTBots forum-b'])
  const creates = fake.requests.filter(r => r.route === 'POST /channels/:id/threads' && r.path.includes(forum.id))
  t.equal(creates.length, 2, 'one post per conversation')
  t.match(
    creates[0]!.body,
    { name: 'GPTBots forum-a', message: { content: /first A/, allowed_mentions: { parse: [] } } },
    'the first message rides on the post'
  )
  const b = posts.find(p => p.name === 'GPTBots forum-b')!
  t.match(
    fake.messagesIn(b.id).map(m => m.content),
    [/first B/, /second B/, /third B/],
    'in order, nothing twice'
  )
  t.equal(fake.messagesIn(b.id)[0]!.id, b.id, "the post's first message")
  t.equal(fake.messagesIn(forum.id).length, 0, 'nothing posted to the forum channel itself')
})
