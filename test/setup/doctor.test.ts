import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { ChannelType, FakeDiscord } from '../fakes/discord.js'
import { FakeGptbots, fakeApiKey } from '../fakes/gptbots.js'
import { FakeSlack, fakeChannel, fakeToken } from '../fakes/slack.js'
import { onlyThese } from '../examples/env.js'
import { freePort, runCli } from '../helpers/process.js'

/**
 * doctor as a user runs it, a real process, against the strict fakes; each failing check planted
 * on its own, the rest of the set-up right, so that the failure is the planted cause's and no other's.
 */
async function setUp(t: Test) {
  const slack = await FakeSlack.start({
    tokens: {
      [fakeToken]: { scopes: ['chat:write', 'chat:write.customize', 'channels:read', 'groups:read'] },
      'xoxb-few-scopes': { scopes: ['chat:write', 'channels:read'] }
    },
    channels: { [fakeChannel]: { name: 'relay' }, C0NOTJOINED: { name: 'elsewhere', member: false } }
  })
  const discord = await new FakeDiscord().start()
  const gptbots = await FakeGptbots.start()
  t.teardown(async () => {
    await slack.close()
    await discord.close()
    await gptbots.close()
  })
  const text = discord.addChannel(ChannelType.Text, { name: 'support' })
  const forum = discord.addChannel(ChannelType.Forum, { name: 'help' })
  const port = await freePort()
  const dir = t.testdir({})
  let written = 0
  const config = (change: (c: Record<string, any>) => void = () => {}) => {
    const c: Record<string, any> = {
      server: { host: '127.0.0.1', port, publicUrl: `http://127.0.0.1:${port}` },
      auth: { tokens: ['k'] },
      gptbots: { apiUrl: gptbots.apiUrl },
      store: { path: './relay.db' },
      relays: {
        'slack.support': {
          type: 'slack',
          token: '${SLACK_BOT_TOKEN}',
          channel: fakeChannel,
          customize: true,
          apiUrl: slack.apiUrl
        },
        'discord.support': {
          type: 'discord',
          token: '${DISCORD_BOT_TOKEN}',
          channel: text.id,
          mode: 'thread',
          apiUrl: discord.api
        }
      }
    }
    change(c)
    // One file per case, side by side: the store path and .env lookups stay in one directory.
    const file = join(dir, `config-${++written}.json`)
    writeFileSync(file, JSON.stringify(c))
    return file
  }
  const run = (file: string, env: Record<string, string> = {}, args: string[] = []) =>
    runCli(['doctor', '--config', file, ...args], {
      env: onlyThese({
        SLACK_BOT_TOKEN: fakeToken,
        DISCORD_BOT_TOKEN: discord.token,
        GPTBOTS_API_KEY: fakeApiKey,
        ...env
      })
    })
  return { slack, discord, forum, port, config, run }
}

const failures = (stdout: string) => stdout.split('\n').filter(line => line.startsWith('✗'))

t.test('a right set-up: every line ✓, exit 0, and the URLs to paste', async t => {
  const { config, run, port, slack } = await setUp(t)
  const result = await run(config(), {}, ['--post'])
  t.equal(result.code, 0, result.stdout + result.stderr)
  t.same(failures(result.stdout), [])
  t.match(result.stdout, /✓ Slack slack\.support: the token works/)
  t.match(
    result.stdout,
    /✓ Slack slack\.support: scopes granted for what the config uses \(chat:write, chat:write\.customize\)/
  )
  t.match(result.stdout, /✓ Slack slack\.support: channel C0123456 \(#relay\) has the app as a member/)
  t.match(result.stdout, /✓ Slack slack\.support: channel C0123456: posted a test message and a reply in its thread/)
  t.match(result.stdout, /✓ Discord discord\.support: channel \d+ \(#support\) suits mode "thread"/)
  t.match(result.stdout, /✓ Discord discord\.support: channel \d+: the bot has View Channel, Create Public Threads/)
  t.match(result.stdout, new RegExp(`✓ public address: http://127\\.0\\.0\\.1:${port} reaches this relay`))
  t.match(result.stdout, new RegExp(`GPTBots webhook URL: http://127\\.0\\.0\\.1:${port}/webhook`))
  t.match(result.stdout, /✓ store: SQLite .*relay\.db does not exist yet/)
  t.match(result.stdout, /✓ GPTBots source default \(http:\/\/127\.0\.0\.1:\d+\): the API key works/)
  const posts = slack.callsOf('chat.postMessage')
  t.equal(posts.length, 2, 'the test message and its reply')
  t.equal(posts[1]!.params.thread_ts, (posts[0]!.body as { ts: string }).ts, 'the reply is in the thread')
})

t.test('each cause, planted alone, fails its own check with its fix, and doctor exits 1', async t => {
  const { config, run, forum, discord } = await setUp(t)
  const cases: [string, string, Record<string, string>, RegExp][] = [
    [
      'wrong Slack token',
      config(),
      { SLACK_BOT_TOKEN: 'xoxb-revoked' },
      /^✗ Slack slack\.support: the token \(auth\.test\): .*invalid_auth[\s\S]*fix: copy the Bot User OAuth Token/m
    ],
    [
      'missing scope',
      config(),
      { SLACK_BOT_TOKEN: 'xoxb-few-scopes' },
      /^✗ Slack slack\.support: the token lacks chat:write\.customize \(for "customize": true\)\n {4}fix: add it under OAuth & Permissions/m
    ],
    [
      'channel not joined',
      config(c => {
        c.relays['slack.support'].channel = 'C0NOTJOINED'
      }),
      {},
      /^✗ Slack slack\.support: channel C0NOTJOINED \(#elsewhere\): the app is not a member\n {4}fix: in the channel, send \/invite @relay/m
    ],
    [
      'forum in thread mode',
      config(c => {
        c.relays['discord.support'].channel = forum.id
      }),
      {},
      /^✗ Discord discord\.support: channel \d+ \(#help\) is a forum channel, but mode "thread" needs a text or announcement channel\n {4}fix: set "mode": "forum"/m
    ],
    [
      'wrong Discord token',
      config(),
      { DISCORD_BOT_TOKEN: 'not-the-token' },
      /^✗ Discord discord\.support: the token \(GET \/users\/@me\): [\s\S]*fix: Developer Portal/m
    ],
    [
      'bad GPTBots key',
      config(),
      { GPTBOTS_API_KEY: 'app-wrong-key' },
      /^✗ GPTBots source default \(http:\/\/127\.0\.0\.1:\d+\): GPTBots refused the API key \(HTTP 401, code 40127: Developer authentication failed\)\n {4}fix: copy the agent's API key/m
    ],
    [
      'unreachable public URL',
      config(c => {
        c.server.publicUrl = 'http://127.0.0.1:9'
      }),
      {},
      /^✗ public address: http:\/\/127\.0\.0\.1:9\/healthz cannot be reached: .*\n {4}fix: check that the tunnel or reverse proxy is running/m
    ]
  ]
  for (const [cause, file, env, expected] of cases) {
    const result = await run(file, env)
    t.equal(result.code, 1, `${cause}: exit 1`)
    t.match(result.stdout, expected, cause)
    t.equal(failures(result.stdout).length, 1, `${cause}: only its own check fails\n${result.stdout}`)
    t.match(result.stdout, /1 of \d+ checks failed$/m)
  }
  // Discord: a channel that denies the bot a permission its mode needs.
  const denied = discord.addChannel(ChannelType.Text, {
    name: 'locked',
    permission_overwrites: [{ id: discord.guildId, type: 0, allow: '0', deny: String(1n << 35n) }]
  })
  const result = await run(
    config(c => {
      c.relays['discord.support'].channel = denied.id
    })
  )
  t.equal(result.code, 1)
  t.match(
    result.stdout,
    /^✗ Discord discord\.support: channel \d+: the bot lacks Create Public Threads\n {4}fix: Edit Channel → Permissions/m
  )
})
