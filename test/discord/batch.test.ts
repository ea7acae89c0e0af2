import t from 'tap'
import { systemClock } from '../../src/clock.js'
import plugin from '../../plugins/discord/index.js'
import type { Relay } from '../../src/relays/types.js'
import { ChannelType, FakeDiscord } from '../fakes/discord.js'
import { deliveryContext, recordingLogger, relayMessage } from '../helpers/relay.js'
import { memoryState } from '../helpers/memory-state.js'
import { asRunRelay } from '../../src/relays/run-adapter.js'

const fake = await new FakeDiscord().start()
t.teardown(() => fake.close())

async function relayIn(mode: 'forum' | 'channel' | 'thread'): Promise<{ relay: Relay; channel: string }> {
  const channel = fake.addChannel(mode === 'forum' ? ChannelType.Forum : ChannelType.Text)
  const relay = await plugin.create(
    { token: fake.token, channel: channel.id, mode, apiUrl: fake.api },
    { name: `discord.${mode}`, logger: recordingLogger(), configDir: '.', clock: systemClock }
  )
  return { relay, channel: channel.id }
}

const at = Date.UTC(2026, 11, 2, 9, 30, 5)

t.test('forum mode: a backlog of turns makes one forum post, each turn with speaker and time', async t => {
  const { relay, channel } = await relayIn('forum')
  t.ok(asRunRelay(relay).runLimits.maxMessages > 1, 'the Discord relay takes runs of several')
  const messages = [
    relayMessage({ conversationId: 'f-1', type: 'QUESTION', text: 'How much is **Pro**?', createdAt: at }),
    relayMessage({ conversationId: 'f-1', text: 'It is $20 a month.', createdAt: at + 4000 }),
    relayMessage({ conversationId: 'f-1', type: 'QUESTION', text: 'Thanks @everyone', createdAt: at + 9000 })
  ]
  const outcome = await asRunRelay(relay).deliverRun(messages, deliveryContext(memoryState()))
  t.equal(outcome.delivered.length, 3)
  t.notOk(outcome.next)
  const [post] = fake.threadsOf(channel)
  const posted = fake.messagesIn(post!.id)
  t.equal(posted.length, 1, 'one Discord message')
  const content = posted[0]!.content!
  t.match(
    content,
    /^\*\*👤 User\*\* · <t:1796203805:T>\nHow much is \*\*Pro\*\*\?\n\*\*🤖 GPTBots\*\* · <t:1796203809:T>\nIt is \$20 a month\.\n\*\*👤 User\*\* · <t:1796203814:T>\n/
  )
  t.same(posted[0]!.pinged, [], 'nobody notified')
  t.ok(content.length <= 2000)
})

t.test('channel mode: turns within 2,000 characters go together, the rest in later posts, prefixes exact', async t => {
  const { relay, channel } = await relayIn('channel')
  const messages = Array.from({ length: 6 }, (_, i) =>
    relayMessage({ conversationId: 'c-1', text: `turn ${i} ${'word '.repeat(120)}` })
  )
  const state = memoryState()
  const counts: number[] = []
  let rest = messages
  while (rest.length > 0) {
    const outcome = await asRunRelay(relay).deliverRun(rest, deliveryContext(state))
    t.notOk(outcome.next)
    counts.push(outcome.delivered.length)
    rest = rest.slice(outcome.delivered.length)
  }
  const posts = fake.messagesIn(channel)
  t.equal(posts.length, counts.length, 'one post per call')
  t.same(counts, [3, 3], 'three turns of about 620 characters per post')
  for (const [i, post] of posts.entries()) {
    t.ok(post.content!.length <= 2000)
    t.equal(post.content!.match(/<t:\d+:T>/g)?.length, counts[i], 'a header per turn in the post')
  }
  t.match(posts[0]!.content, /conversation `c-1`/, 'in a shared channel the post says whose it is')
  t.match(
    posts.map(p => p.content).join('\n'),
    /turn 0[\s\S]*turn 1[\s\S]*turn 2[\s\S]*turn 3[\s\S]*turn 4[\s\S]*turn 5/
  )
})

t.test('a message too long for one post goes alone, in its parts', async t => {
  const { relay, channel } = await relayIn('thread')
  const long = relayMessage({ conversationId: 't-1', text: 'long '.repeat(900) })
  const outcome = await asRunRelay(relay).deliverRun(
    [long, relayMessage({ conversationId: 't-1', text: 'short' })],
    deliveryContext(memoryState())
  )
  t.equal(outcome.delivered.length, 1)
  const [thread] = fake.threadsOf(channel)
  t.ok(fake.messagesIn(thread!.id).length >= 3)
})
