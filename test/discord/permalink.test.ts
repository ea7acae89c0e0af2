import { systemClock } from '../../src/clock.js'
import t from 'tap'
import plugin from '../../plugins/discord/index.js'
import { deliveryLink, discordPermalink } from '../../plugins/discord/permalink.js'
import { memoryState } from '../helpers/memory-state.js'
import { ChannelType, FakeDiscord } from '../fakes/discord.js'
import { deliveryContext, recordingLogger, relayMessage } from '../helpers/relay.js'
import { deliverOne } from '../../src/relays/run-adapter.js'
import type { DeliveryOutcome } from '../../src/relays/types.js'

const fake = await new FakeDiscord().start()
t.teardown(() => fake.close())

const linkOf = (outcome: DeliveryOutcome) =>
  outcome.status === 'delivered'
    ? (outcome.posted as { link?: string; target: string; messageIds: string[] })
    : undefined

t.test('a bot relay links each delivery to its first message, in its thread, fetching the channel once', async t => {
  const channel = fake.addChannel(ChannelType.Text)
  const relay = await plugin.create(
    { token: fake.token, channel: channel.id, apiUrl: fake.api },
    { name: 'discord.link', logger: recordingLogger(), configDir: '.', clock: systemClock }
  )
  const state = memoryState()
  for (const text of ['one', 'two']) {
    const posted = linkOf(await deliverOne(relay, relayMessage({ text }), deliveryContext(state)))
    const message = fake.messagesIn(posted!.target).find(m => m.content?.includes(text))!
    t.not(posted!.target, channel.id, 'posted in the conversation thread')
    t.equal(posted!.link, `https://discord.com/channels/${fake.guildId}/${posted!.target}/${message.id}`, text)
  }
  t.ok(fake.requests.filter(r => r.route === 'GET /channels/:id').length <= 1, 'the channel is fetched at most once')
})

t.test('a webhook relay links to the message in the webhook’s channel', async t => {
  const channel = fake.addChannel(ChannelType.Text)
  const hook = fake.addWebhook(channel.id)
  const relay = await plugin.create(
    { webhookUrl: hook.url, mode: 'channel', apiUrl: fake.api },
    { name: 'discord.hook', logger: recordingLogger(), configDir: '.', clock: systemClock }
  )
  const posted = linkOf(await deliverOne(relay, relayMessage({ text: 'via hook' }), deliveryContext(memoryState())))
  const message = fake.messagesIn(channel.id).at(-1)!
  t.equal(posted!.link, `https://discord.com/channels/${fake.guildId}/${channel.id}/${message.id}`)
})

t.test('no link rather than a wrong one', async t => {
  t.equal(discordPermalink(undefined, '1', '2'), undefined, 'a direct message has no guild')
  t.equal(discordPermalink('1', '2', 'x"><script>'), undefined)
  const failing = { guild: () => Promise.reject(new Error('403')), webhookChannel: async () => '5' }
  t.equal(await deliveryLink(failing, '4', '6'), undefined, 'a failed lookup is no failed delivery')
})
