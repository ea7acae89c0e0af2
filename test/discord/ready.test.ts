import { systemClock } from '../../src/clock.js'
import t from 'tap'
import plugin from '../../plugins/discord/index.js'
import { ChannelType, FakeDiscord } from '../fakes/discord.js'
import { recordingLogger } from '../helpers/relay.js'

const fake = await new FakeDiscord().start()
t.teardown(() => fake.close())

const relay = (options: object) =>
  plugin.create({ apiUrl: fake.api, ...options } as never, {
    name: 'discord.ready',
    logger: recordingLogger(),
    configDir: '.',
    clock: systemClock
  })

t.test('ready when the token works and the channel suits the mode', async t => {
  const text = fake.addChannel(ChannelType.Text)
  const news = fake.addChannel(ChannelType.Announcement)
  const forum = fake.addChannel(ChannelType.Forum)
  await t.resolves((await relay({ token: fake.token, channel: text.id })).ready!())
  await t.resolves((await relay({ token: fake.token, channel: news.id, mode: 'thread' })).ready!())
  await t.resolves((await relay({ token: fake.token, channel: text.id, mode: 'channel' })).ready!())
  await t.resolves((await relay({ token: fake.token, channel: forum.id, mode: 'forum' })).ready!())
  await t.resolves((await relay({ webhookUrl: fake.addWebhook(forum.id).url, mode: 'forum' })).ready!())
  t.ok(
    fake.requests.some(r => r.route === 'GET /users/@me' && r.status === 200),
    'the token was checked'
  )
})

t.test('a wrong token is named', async t => {
  const channel = fake.addChannel(ChannelType.Text)
  await t.rejects((await relay({ token: 'wrong', channel: channel.id })).ready!(), {
    message: /^discord\.ready: Discord rejected the bot token/
  })
})

t.test('a channel of the wrong type for the mode is named', async t => {
  const text = fake.addChannel(ChannelType.Text)
  const forum = fake.addChannel(ChannelType.Forum)
  await t.rejects((await relay({ token: fake.token, channel: forum.id })).ready!(), {
    message: `discord.ready: channel ${forum.id} is a forum channel, but mode "thread" needs a text or announcement channel; change channel or mode`
  })
  await t.rejects((await relay({ token: fake.token, channel: text.id, mode: 'forum' })).ready!(), {
    message: `discord.ready: channel ${text.id} is a text channel, but mode "forum" needs a forum channel; change channel or mode`
  })
  const thread = fake.addChannel(ChannelType.PublicThread, { parent_id: text.id })
  await t.rejects((await relay({ token: fake.token, channel: thread.id, mode: 'channel' })).ready!(), {
    message: /is a thread, but mode "channel"/
  })
})

t.test('an unknown or hidden channel is named, with the cause kept', async t => {
  const error = await (await relay({ token: fake.token, channel: '998877665544332211' })).ready!().catch(
    e => e as Error
  )
  t.match(error, { message: /^discord\.ready: channel 998877665544332211 does not exist or the bot cannot see it/ })
  t.match((error as Error).cause, { status: 404, code: 10003 })
  const hidden = fake.addChannel(ChannelType.Text, { deny: 50001 })
  await t.rejects((await relay({ token: fake.token, channel: hidden.id })).ready!(), {
    message: /the bot cannot see channel/
  })
})

t.test('a webhook that is gone, or of another channel, is named', async t => {
  const channel = fake.addChannel(ChannelType.Text)
  const hook = fake.addWebhook(channel.id)
  await t.rejects(
    (await relay({ webhookUrl: `${fake.api}/webhooks/123456789012345678/nope`, mode: 'channel' })).ready!(),
    { message: /webhook of webhookUrl no longer exists/ }
  )
  await t.rejects(
    (await relay({ webhookUrl: `${fake.api}/webhooks/${hook.id}/wrong-token`, mode: 'channel' })).ready!(),
    { message: /token in webhookUrl is wrong/ }
  )
  const other = fake.addChannel(ChannelType.Text)
  await t.rejects((await relay({ webhookUrl: hook.url, token: fake.token, channel: other.id })).ready!(), {
    message: new RegExp(`webhookUrl posts into channel ${channel.id}, but channel is ${other.id}`)
  })
})

t.test('options that cannot work are refused at create, naming the relay', async t => {
  await t.rejects(async () => relay({}), { message: 'discord.ready: set token (a bot token) or webhookUrl' })
  await t.rejects(async () => relay({ token: 'x' }), {
    message: 'discord.ready: set channel: the id of the channel to post into'
  })
  await t.rejects(async () => relay({ webhookUrl: 'https://example.com/nothing' }), {
    message: /webhookUrl must look like/
  })
  await t.rejects(
    async () => relay({ webhookUrl: `${fake.api}/webhooks/1/x`, mode: 'channel', botName: 'Discord Bot' }),
    { message: /botName may not contain "discord"/ }
  )
})
