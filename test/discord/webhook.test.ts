import { systemClock } from '../../src/clock.js'
import t from 'tap'
import plugin from '../../plugins/discord/index.js'
import { memoryState } from '../helpers/memory-state.js'
import { ChannelType, FakeDiscord } from '../fakes/discord.js'
import { deliveryContext, recordingLogger, relayMessage } from '../helpers/relay.js'
import { deliverOne } from '../../src/relays/run-adapter.js'

const fake = await new FakeDiscord().start()
t.teardown(() => fake.close())

const personas = {
  botName: 'Support Bot',
  userName: 'Customer',
  botAvatarUrl: 'https://example.com/bot.png',
  userAvatarUrl: 'https://example.com/user.png'
}
const create = (options: object) =>
  plugin.create(
    { apiUrl: fake.api, ...personas, ...options },
    { name: 'discord.hook', logger: recordingLogger(), configDir: '.', clock: systemClock }
  )

t.test(
  'forum through a webhook: thread_name makes the post, thread_id continues it, names and avatars per role',
  async t => {
    const forum = fake.addChannel(ChannelType.Forum)
    const hook = fake.addWebhook(forum.id)
    const relay = await create({ webhookUrl: hook.url, mode: 'forum' })
    await relay.ready?.()
    const states = { a: memoryState(), b: memoryState() }
    const turns = [
      ['a', 'QUESTION', 'A asks'],
      ['b', 'QUESTION', 'B asks'],
      ['a', 'ANSWER', 'A answered'],
      ['b', 'ANSWER', 'B answered']
    ] as const
    for (const [conversation, type, text] of turns) {
      const outcome = await deliverOne(
        relay,
        relayMessage({ conversationId: `hook-${conversation}`, type, text }),
        deliveryContext(states[conversation])
      )
      t.equal(outcome.status, 'delivered', text)
    }
    const posts = fake.threadsOf(forum.id)
    t.equal(posts.length, 2)
    const a = posts.find(p => p.name === 'GPTBots hook-a')!
    t.same(
      fake.messagesIn(a.id).map(m => [m.username, m.avatar_url, m.content]),
      [
        ['Customer', 'https://example.com/user.png', 'A asks'],
        ['Support Bot', 'https://example.com/bot.png', 'A answered']
      ],
      'the webhook shows who speaks, so the text needs no label'
    )
    const posts_ = fake.requests.filter(r => r.route === 'POST /webhooks/:id/:token')
    t.ok(posts_.every(r => r.query.get('wait') === 'true'))
    t.equal(posts_.filter(r => r.body.thread_name).length, 2, 'two posts made')
    t.equal(posts_.filter(r => r.query.get('thread_id')).length, 2, 'the others went into their post')
    t.equal(fake.requests.filter(r => r.route.startsWith('POST /channels')).length, 0, 'no bot calls at all')
  }
)

t.test('channel mode through a webhook marks the conversation', async t => {
  const channel = fake.addChannel(ChannelType.Text)
  const hook = fake.addWebhook(channel.id)
  const relay = await create({ webhookUrl: hook.url, mode: 'channel' })
  await deliverOne(relay, relayMessage({ conversationId: 'w1', text: 'hi' }), deliveryContext(memoryState()))
  await deliverOne(relay, relayMessage({ conversationId: 'w2', text: 'there' }), deliveryContext(memoryState()))
  t.same(
    fake.messagesIn(channel.id).map(m => [m.username, m.content]),
    [
      ['Support Bot', '-# conversation `w1`\nhi'],
      ['Support Bot', '-# conversation `w2`\nthere']
    ]
  )
})

t.test('thread mode with a webhook: the bot makes the thread, the webhook posts in it', async t => {
  const channel = fake.addChannel(ChannelType.Text)
  const hook = fake.addWebhook(channel.id)
  const relay = await create({ webhookUrl: hook.url, token: fake.token })
  await relay.ready?.()
  const state = memoryState()
  for (const text of ['one', 'two']) {
    t.equal(
      (await deliverOne(relay, relayMessage({ conversationId: 'wt', text }), deliveryContext(state))).status,
      'delivered'
    )
  }
  const [thread] = fake.threadsOf(channel.id)
  t.same(
    fake.messagesIn(thread!.id).map(m => [m.webhook_id, m.content]),
    [
      [hook.id, 'one'],
      [hook.id, 'two']
    ]
  )
})

t.test('thread mode needs a bot token to make threads', async t => {
  const hook = fake.addWebhook(fake.addChannel(ChannelType.Text).id)
  await t.rejects(async () => create({ webhookUrl: hook.url }), /discord\.hook: mode "thread" needs a bot token/)
})
