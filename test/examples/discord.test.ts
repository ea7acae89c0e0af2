import t from 'tap'
import { ChannelType, FakeDiscord, type RecordedRequest } from '../fakes/discord.js'
import { until } from '../helpers/process.js'
import { plausible } from './env.js'
import { documentedPayload, postExample, startExample } from './harness.js'

/** What the relay asked Discord to create, with ids named as the docs name them and the nonce left out. */
function created(requests: RecordedRequest[], names: Record<string, string>): unknown {
  const named = (path: string) => path.replace(/\d{15,}/g, id => names[id] ?? 'THREAD_ID')
  return requests
    .filter(r => r.method === 'POST')
    .map(r => {
      const { nonce: _n, enforce_nonce: _e, ...body } = r.body
      return { route: `POST ${named(r.path)}`, body }
    })
}

t.test('examples/discord.json relays GPTBots example into a new thread, as docs/discord.md shows', async t => {
  const key = plausible.GPTBOTS_API_KEY!
  const fake = await new FakeDiscord().start()
  t.teardown(() => fake.close())
  const channel = fake.addChannel(ChannelType.Text, { name: 'gptbots' })
  const relay = await startExample(
    t,
    'examples/discord.json',
    { GPTBOTS_API_KEY: key, DISCORD_BOT_TOKEN: fake.token, DISCORD_CHANNEL_ID: channel.id },
    { discord: fake.api }
  )
  t.same(await postExample(relay, key), { code: 200, msg: 'success' })
  t.ok(await until(() => fake.messages.length === 1, 60_000), relay.stderr())
  t.equal((await fetch(`${relay.url}/readyz`)).status, 200, 'ready')
  const [thread] = fake.threadsOf(channel.id)
  t.equal(thread?.name, 'GPTBots 657303a8a764d47094874bbe')
  t.equal(fake.messages[0]!.channel_id, thread!.id, 'the message is in the thread')
  t.same(
    created(fake.requests, { [channel.id]: 'DISCORD_CHANNEL_ID' }),
    documentedPayload('docs/discord.md', 'discord'),
    'docs/discord.md shows what Discord received'
  )
})

t.test('examples/slack-and-discord.json routes the second bot to the Discord forum and to Slack', async t => {
  const { FakeSlack } = await import('../fakes/slack.js')
  const env = {
    GPTBOTS_API_KEY: plausible.GPTBOTS_API_KEY!,
    SALES_BOT_API_KEY: plausible.SALES_BOT_API_KEY!,
    SLACK_BOT_TOKEN: plausible.SLACK_BOT_TOKEN!,
    SLACK_CHANNEL_ID: plausible.SLACK_CHANNEL_ID!
  }
  const slack = await FakeSlack.start({
    tokens: { [env.SLACK_BOT_TOKEN]: {} },
    channels: { [env.SLACK_CHANNEL_ID]: {} }
  })
  t.teardown(() => slack.close())
  const discord = await new FakeDiscord().start()
  t.teardown(() => discord.close())
  const forum = discord.addChannel(ChannelType.Forum, { name: 'sales' })
  const relay = await startExample(
    t,
    'examples/slack-and-discord.json',
    { ...env, DISCORD_BOT_TOKEN: discord.token, DISCORD_FORUM_CHANNEL_ID: forum.id },
    { slack: slack.apiUrl, discord: discord.api }
  )
  t.same(await postExample(relay, env.SALES_BOT_API_KEY, 'sales-bot'), { code: 200, msg: 'success' })
  t.ok(await until(() => discord.messages.length === 1 && slack.messages.length === 2, 60_000), relay.stderr())
  t.same(
    created(discord.requests, { [forum.id]: 'DISCORD_FORUM_CHANNEL_ID' }),
    documentedPayload('docs/discord.md', 'discord-forum'),
    'docs/discord.md shows what the forum received'
  )

  // The first bot's conversations go to Slack only.
  const first = await fetch(`${relay.url}/webhook`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${env.GPTBOTS_API_KEY}` },
    body: JSON.stringify({
      message_id: 'm-2',
      message_type: 'QUESTION',
      text: 'Hello',
      create_time: 1679587006,
      conversation_id: 'c-2'
    })
  })
  t.equal(first.status, 200)
  t.ok(await until(() => slack.messages.length === 4, 60_000), 'Slack got its thread')
  t.equal(discord.messages.length, 1, 'Discord did not')
})
