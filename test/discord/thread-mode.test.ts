import { systemClock } from '../../src/clock.js'
import t from 'tap'
import plugin from '../../plugins/discord/index.js'
import { memoryState } from '../helpers/memory-state.js'
import { ChannelType, FakeDiscord } from '../fakes/discord.js'
import { deliveryContext, recordingLogger, relayMessage } from '../helpers/relay.js'
import { deliverOne } from '../../src/relays/run-adapter.js'

const fake = await new FakeDiscord().start()
t.teardown(() => fake.close())

const relayFor = (channel: string, extra: object = {}) =>
  plugin.create(
    { token: fake.token, channel, apiUrl: fake.api, ...extra },
    { name: 'discord.test', logger: recordingLogger(), configDir: '.', clock: systemClock }
  )

t.test('each conversation gets one public thread, and every message lands in it, interleaved', async t => {
  const channel = fake.addChannel(ChannelType.Text)
  const relay = await relayFor(channel.id)
  const states = { a: memoryState(), b: memoryState() }
  const turns = [
    ['a', 'QUESTION', 'Hello from A'],
    ['b', 'QUESTION', 'Hello from B'],
    ['a', 'ANSWER', 'Answer to A'],
    ['b', 'ANSWER', 'Answer to B'],
    ['a', 'QUESTION', 'Second question of A']
  ] as const
  for (const [conversation, type, text] of turns) {
    const outcome = await deliverOne(
      relay,
      relayMessage({ conversationId: `conv-${conversation}`, type, text }),
      deliveryContext(states[conversation])
    )
    t.equal(outcome.status, 'delivered', text)
  }
  const threads = fake.threadsOf(channel.id)
  t.equal(threads.length, 2, 'one thread per conversation')
  t.same(
    threads.map(th => th.type),
    [ChannelType.PublicThread, ChannelType.PublicThread],
    'public threads, not the private default'
  )
  t.same(threads.map(th => th.name).sort(), ['GPTBots conv-a', 'GPTBots conv-b'])
  const a = threads.find(th => th.name === 'GPTBots conv-a')!
  t.match(
    fake.messagesIn(a.id).map(m => m.content),
    [/Hello from A/, /Answer to A/, /Second question of A/]
  )
  t.equal(fake.messagesIn(channel.id).length, 0, 'nothing posted in the channel itself')
  t.same(await states.a.get('thread'), { id: a.id, name: 'GPTBots conv-a' }, 'the mapping is in the conversation state')
})

t.test('questions and answers look different', async t => {
  const channel = fake.addChannel(ChannelType.Text)
  const relay = await relayFor(channel.id, { botName: 'Helper', userName: 'Customer' })
  const state = memoryState()
  await deliverOne(relay, relayMessage({ type: 'QUESTION', text: 'Is it on?' }), deliveryContext(state))
  await deliverOne(relay, relayMessage({ type: 'ANSWER', text: 'It is.' }), deliveryContext(state))
  const [question, answer] = fake.messagesIn(fake.threadsOf(channel.id)[0]!.id)
  t.equal(question!.content, '**👤 Customer**\nIs it on?')
  t.equal(answer!.content, '**🤖 Helper**\nIt is.')
})

t.test('a restarted relay keeps posting into the same threads', async t => {
  const channel = fake.addChannel(ChannelType.Text)
  const maps = { a: new Map<string, unknown>(), b: new Map<string, unknown>() }
  const first = await relayFor(channel.id)
  await deliverOne(
    first,
    relayMessage({ conversationId: 'r-a', text: 'before restart A' }),
    deliveryContext(memoryState(maps.a))
  )
  await deliverOne(
    first,
    relayMessage({ conversationId: 'r-b', text: 'before restart B' }),
    deliveryContext(memoryState(maps.b))
  )
  await first.close?.()

  const second = await relayFor(channel.id)
  await deliverOne(
    second,
    relayMessage({ conversationId: 'r-a', text: 'after restart A' }),
    deliveryContext(memoryState(maps.a))
  )
  await deliverOne(
    second,
    relayMessage({ conversationId: 'r-b', text: 'after restart B' }),
    deliveryContext(memoryState(maps.b))
  )
  const threads = fake.threadsOf(channel.id)
  t.equal(threads.length, 2, 'no new threads after the restart')
  for (const thread of threads) t.equal(fake.messagesIn(thread.id).length, 2, `${thread.name} has both messages`)
})

t.test('thread names follow the template and stay within 100 characters', async t => {
  const channel = fake.addChannel(ChannelType.Text)
  const relay = await relayFor(channel.id, { threadName: '{preview} ({conversationId})', autoArchiveMinutes: 60 })
  const outcome = await deliverOne(
    relay,
    relayMessage({ conversationId: 'x'.repeat(120), text: 'How do I reset my password?' }),
    deliveryContext(memoryState())
  )
  t.equal(outcome.status, 'delivered')
  const [thread] = fake.threadsOf(channel.id)
  t.ok(thread!.name.startsWith('How do I reset my password? (xxx'))
  t.equal(thread!.name.length, 100)
  const create = fake.requests.find(r => r.route === 'POST /channels/:id/threads' && r.path.includes(channel.id))!
  t.equal(create.body.auto_archive_duration, 60)
})

t.test('an announcement channel gets announcement threads', async t => {
  const channel = fake.addChannel(ChannelType.Announcement)
  const relay = await relayFor(channel.id)
  const outcome = await deliverOne(relay, relayMessage({ text: 'news' }), deliveryContext(memoryState()))
  t.equal(outcome.status, 'delivered')
  t.equal(fake.threadsOf(channel.id)[0]!.type, ChannelType.AnnouncementThread)
})

t.test('an empty message posts nothing and creates no thread', async t => {
  const channel = fake.addChannel(ChannelType.Text)
  const relay = await relayFor(channel.id)
  const outcome = await deliverOne(
    relay,
    relayMessage({ text: '  ', flowOutput: [{ audio: [] }] }),
    deliveryContext(memoryState())
  )
  t.same(outcome, { status: 'delivered', posted: { parts: 0 } })
  t.equal(fake.threadsOf(channel.id).length, 0)
})
