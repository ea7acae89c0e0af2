import { systemClock } from '../../src/clock.js'
import t from 'tap'
import plugin from '../../plugins/discord/index.js'
import { memoryState } from '../helpers/memory-state.js'
import { ChannelType, FakeDiscord } from '../fakes/discord.js'
import { deliveryContext, recordingLogger, relayMessage } from '../helpers/relay.js'
import { deliverOne } from '../../src/relays/run-adapter.js'

const fake = await new FakeDiscord().start()
t.teardown(() => fake.close())

const pings =
  '@everyone look, @here too, <@&112233445566778899> role, <@223344556677889900> and <@!223344556677889900> users'

t.test('mentions in relayed text never ping, in every mode and every request', async t => {
  const text = fake.addChannel(ChannelType.Text)
  const forum = fake.addChannel(ChannelType.Forum)
  const hook = fake.addWebhook(fake.addChannel(ChannelType.Text).id)
  const configs = [
    { token: fake.token, channel: text.id },
    { token: fake.token, channel: forum.id, mode: 'forum' as const },
    { token: fake.token, channel: text.id, mode: 'channel' as const },
    { webhookUrl: hook.url, mode: 'channel' as const }
  ]
  for (const config of configs) {
    const relay = await plugin.create(
      { apiUrl: fake.api, ...config },
      { name: 'discord.pings', logger: recordingLogger(), configDir: '.', clock: systemClock }
    )
    const message = relayMessage({
      conversationId: `pings-${config.mode ?? 'thread'}`,
      text: `${pings}\n\n${'filler line\n'.repeat(250)}${pings}`,
      flowOutput: [{ content: pings, audio: [{ url: 'https://a.example/x.mp3', transcript: pings }] }]
    })
    t.equal(
      (await deliverOne(relay, message, deliveryContext(memoryState()))).status,
      'delivered',
      config.mode ?? 'thread'
    )
  }
  const creates = fake.requests.filter(r => r.method === 'POST' && r.route !== 'POST /channels/:id/threads')
  const forumPosts = fake.requests.filter(r => r.route === 'POST /channels/:id/threads' && r.body.message)
  t.ok(creates.length >= 7, `${creates.length} message requests`)
  t.equal(forumPosts.length, 1)
  for (const request of creates)
    t.same(request.body.allowed_mentions, { parse: [] }, `${request.route} sends allowed_mentions parse []`)
  t.same(forumPosts[0]!.body.message.allowed_mentions, { parse: [] }, "the forum post's first message too")
  t.ok(fake.messages.length >= 8)
  t.ok(
    fake.messages.every(m => m.pinged.length === 0),
    'nobody was pinged'
  )
  t.ok(
    fake.messages.some(m => m.content?.includes('@everyone') && m.content.includes('<@&112233445566778899>')),
    'the mentions still show as text'
  )
})

t.test('the fake would have reported a ping without allowed_mentions (the check can fail)', async t => {
  const channel = fake.addChannel(ChannelType.Text)
  const response = await fetch(`${fake.api}/v10/channels/${channel.id}/messages`, {
    method: 'POST',
    headers: { authorization: `Bot ${fake.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ content: pings })
  })
  t.equal(response.status, 200)
  t.same(fake.messagesIn(channel.id)[0]!.pinged, [
    '@everyone',
    '@here',
    '<@&112233445566778899>',
    '<@223344556677889900>',
    '<@!223344556677889900>'
  ])
})
