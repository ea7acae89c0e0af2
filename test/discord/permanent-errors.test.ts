import { systemClock } from '../../src/clock.js'
import t from 'tap'
import plugin from '../../plugins/discord/index.js'
import { memoryState } from '../helpers/memory-state.js'
import { ChannelType, FakeDiscord } from '../fakes/discord.js'
import { deliveryContext, recordingLogger, relayMessage } from '../helpers/relay.js'
import { deliverOne } from '../../src/relays/run-adapter.js'

const fake = await new FakeDiscord().start()
t.teardown(() => fake.close())

const cases = [
  {
    name: 'unknown channel',
    setup: () => ({ channel: '123456789012345678' }),
    error: /channel 123456789012345678 does not exist or the bot cannot see it/
  },
  {
    name: 'missing access',
    setup: () => ({ channel: fake.addChannel(ChannelType.Text, { deny: 50001 }).id }),
    error: /the bot cannot see channel \d+; add the bot to the server and allow it View Channel/
  },
  {
    name: 'missing permissions',
    setup: () => ({ channel: fake.addChannel(ChannelType.Text, { deny: 50013 }).id }),
    error:
      /the bot lacks a permission in channel \d+; allow it View Channel, Send Messages, Send Messages in Threads, Create Public Threads/
  },
  {
    name: 'forum channel in channel mode',
    setup: () => ({ channel: fake.addChannel(ChannelType.Forum).id, mode: 'channel' as const }),
    error: /does not take messages directly; use mode "forum"/
  }
]

for (const { name, setup, error } of cases) {
  t.test(`${name}: failed with what the admin must do, logged loudly once`, async t => {
    const logger = recordingLogger()
    const relay = await plugin.create(
      { token: fake.token, apiUrl: fake.api, ...setup() },
      { name: 'discord.broken', logger, configDir: '.', clock: systemClock }
    )
    const outcomes = []
    for (let i = 0; i < 3; i++) {
      outcomes.push(
        await deliverOne(
          relay,
          relayMessage({ conversationId: `broken-${i % 2}`, text: 'hello' }),
          deliveryContext(memoryState())
        )
      )
    }
    for (const outcome of outcomes) t.match(outcome, { status: 'failed', error }, 'failed, not retried')
    t.match(outcomes[0], { error: /^discord\.broken: / }, 'names the relay')
    const errors = logger.lines.filter(l => l.level === 'error')
    t.equal(errors.length, 1, 'logged at error level once for three failures')
    t.match(errors[0]!.msg, error)
  })
}

t.test('a refused token holds the delivery, with what to do, and leaves the saying to the core', async t => {
  const logger = recordingLogger()
  const relay = await plugin.create(
    { token: 'revoked', apiUrl: fake.api, channel: fake.addChannel(ChannelType.Text).id },
    { name: 'discord.broken', logger, configDir: '.', clock: systemClock }
  )
  const outcome = await deliverOne(relay, relayMessage({ text: 'hello' }), deliveryContext(memoryState()))
  t.match(outcome, {
    status: 'held',
    error: /^discord\.broken: Discord rejected the bot token; reset it in the Discord Developer Portal/
  })
  t.same(
    logger.lines.filter(l => l.level === 'error'),
    [],
    'the dispatcher logs the hold, once for the relay'
  )
})

t.test('a distinct problem is logged loudly again', async t => {
  const logger = recordingLogger()
  const denied = fake.addChannel(ChannelType.Text, { deny: 50013 })
  const relay = await plugin.create(
    { token: fake.token, apiUrl: fake.api, channel: denied.id, mode: 'channel' },
    { name: 'discord.broken', logger, configDir: '.', clock: systemClock }
  )
  await deliverOne(relay, relayMessage({ text: 'one' }), deliveryContext(memoryState()))
  denied.deny = 50001
  await deliverOne(relay, relayMessage({ text: 'two' }), deliveryContext(memoryState()))
  await deliverOne(relay, relayMessage({ text: 'three' }), deliveryContext(memoryState()))
  t.equal(logger.lines.filter(l => l.level === 'error').length, 2)
})
