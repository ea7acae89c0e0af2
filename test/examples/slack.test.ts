import { systemClock } from '../../src/clock.js'
import { readFileSync } from 'node:fs'
import t from 'tap'
import plugin from '../../plugins/slack/index.js'
import { FakeSlack, relayMessage, type PostedMessage } from '../fakes/slack.js'
import { memoryState } from '../helpers/memory-state.js'
import { until } from '../helpers/process.js'
import { plausible } from './env.js'
import { documentedPayload, postExample, startExample } from './harness.js'
import { deliveryContext, recordingLogger } from '../helpers/relay.js'
import { deliverOne } from '../../src/relays/run-adapter.js'

/** The scopes of the app manifest docs/slack.md tells users to paste. */
function manifestScopes(): string[] {
  const text = readFileSync('docs/slack.md', 'utf8')
  const block = /<!-- manifest -->\s*```json\n([\s\S]*?)\n```/.exec(text)
  if (!block) throw new Error('docs/slack.md has no <!-- manifest --> json block')
  return JSON.parse(block[1]!).oauth_config.scopes.bot
}

/** The ts values in order of appearance become 1700000000.000001, .000002...: they differ each run. */
function normalised(messages: PostedMessage[]): unknown {
  const seen = new Map<string, string>()
  const ts = (value: string) => {
    if (!seen.has(value)) seen.set(value, `1700000000.${String(seen.size + 1).padStart(6, '0')}`)
    return seen.get(value)!
  }
  return messages.map(m =>
    JSON.parse(
      JSON.stringify({ ...m, ts: ts(m.ts), thread_ts: m.thread_ts === undefined ? undefined : ts(m.thread_ts) })
    )
  )
}

t.test('the manifest asks for the scopes the Slack relay uses and its README names, no more', async t => {
  const scopes = manifestScopes()
  t.ok(scopes.includes('chat:write'), 'chat:write, without which nothing is posted')
  const readme = readFileSync('plugins/slack/README.md', 'utf8')
  const named = readme.slice(readme.indexOf('## Scopes'), readme.indexOf('\n## ', readme.indexOf('## Scopes') + 1))
  for (const scope of scopes) t.match(named, `\`${scope}\``, `${scope} is one the plugin's README names`)
  t.same(new Set(scopes).size, scopes.length, 'no scope twice')
})

t.test('each scope of the manifest is needed: without it the relay fails or warns', async t => {
  const scopes = manifestScopes()
  for (const scope of scopes) {
    const fake = await FakeSlack.start({
      rateLimit: false,
      tokens: { 'xoxb-less': { scopes: scopes.filter(s => s !== scope) } },
      channels: { C0PUBLIC: {}, G0PRIVATE: { private: true } }
    })
    t.teardown(() => fake.close())
    // groups:* is about private channels; the others show on any channel.
    const channel = scope.startsWith('groups:') ? 'G0PRIVATE' : 'C0PUBLIC'
    const logger = recordingLogger()
    const relay = await plugin.create(
      { token: 'xoxb-less', channel, apiUrl: fake.apiUrl },
      { name: 'slack.support', logger, configDir: '.', clock: systemClock }
    )
    const ready = await relay.ready!().then(
      () => 'ready',
      (error: Error) => error.message
    )
    const state = memoryState()
    // Reading a channel back (the *:history scopes) happens only after a post whose answer was lost.
    if (scope.endsWith(':history')) {
      fake.loseAnswers(1)
      await deliverOne(relay, relayMessage(), deliveryContext(state))
    }
    const outcome = await deliverOne(relay, relayMessage(), deliveryContext(state))
    const noticed = ready !== 'ready' || logger.warnings().length > 0 || outcome.status !== 'delivered'
    t.ok(
      noticed,
      `without ${scope}: ${ready}; ${logger
        .warnings()
        .map(w => w.msg)
        .join('; ')}; ${outcome.status}`
    )
    await relay.close?.()
  }
})

t.test(
  'examples/slack.json, with an app installed from the manifest, relays GPTBots example into a thread as docs/slack.md shows',
  async t => {
    const key = plausible.GPTBOTS_API_KEY!
    const token = plausible.SLACK_BOT_TOKEN!
    const channel = plausible.SLACK_CHANNEL_ID!
    const fake = await FakeSlack.start({
      tokens: { [token]: { scopes: manifestScopes() } },
      channels: { [channel]: { name: 'gptbots' } }
    })
    t.teardown(() => fake.close())
    const relay = await startExample(
      t,
      'examples/slack.json',
      { GPTBOTS_API_KEY: key, SLACK_BOT_TOKEN: token, SLACK_CHANNEL_ID: channel },
      { slack: fake.apiUrl }
    )
    t.same(await postExample(relay, key), { code: 200, msg: 'success' })
    t.ok(await until(() => fake.messages.length === 2, 60_000), relay.stderr())

    const ready = await fetch(`${relay.url}/readyz`)
    t.equal(ready.status, 200, 'ready: the token and the channel check pass with the manifest scopes')
    t.notMatch(relay.stderr(), /cannot check channel|not a member|missing_scope/, 'no warning about scopes')
    t.match(relay.stderr(), /Slack relay slack\.support is ready/, 'the line the walkthrough tells users to look for')

    const [parent, reply] = fake.messages
    t.equal(reply!.thread_ts, parent!.ts, 'the answer is a reply in the conversation thread')
    t.same(
      normalised(fake.messages),
      documentedPayload('docs/slack.md', 'slack'),
      'docs/slack.md shows what Slack received'
    )
  }
)
