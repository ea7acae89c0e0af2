import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { loadConfigFile, resolveConfig } from '../../src/config/load.js'
import { prepareRelay } from '../../src/relays/loader.js'
import { webhookAdvice } from '../../src/server.js'

const base = { auth: { tokens: ['k'] }, relays: { console: { type: 'console' } } }
const resolve = (raw: unknown, env: NodeJS.ProcessEnv = {}) => resolveConfig(raw, { configDir: process.cwd(), env })
/** The problems a config is refused with, one per line. */
function problems(raw: unknown, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    resolve(raw, env)
  } catch (error) {
    return (error as Error).message.split('\n')
  }
  return []
}
async function relayProblems(entry: Record<string, unknown>): Promise<string[]> {
  try {
    await prepareRelay('r', entry as { type: string }, process.cwd())
  } catch (error) {
    return (error as Error).message.split('\n')
  }
  return []
}

t.test('store: the driver defaults to sqlite, as documented', async t => {
  const { config } = resolve({ ...base, store: { path: './data/relay.db' } })
  // A relative path is read relative to the config file (here the working directory).
  t.same(config.store, { driver: 'sqlite', path: join(process.cwd(), 'data/relay.db'), synchronous: 'FULL' })
  t.same(resolve({ ...base, store: { synchronous: 'NORMAL' } }).config.store, {
    driver: 'sqlite',
    path: join(process.cwd(), 'data/relay.db'),
    synchronous: 'NORMAL'
  })
})

t.test('store: errors speak of the branch the user chose, one line per real problem', async t => {
  t.same(problems({ ...base, store: { driver: 'postgres' } }), ['store.url is required'])
  t.same(problems({ ...base, store: { driver: 'mysql' } }), ['store.driver must be "sqlite" or "postgres"'])
  t.same(problems({ ...base, store: { driver: 'postgress', url: 'postgres://db/x' } }), [
    'store.driver must be "sqlite" or "postgres": did you mean "postgres"?'
  ])
  t.same(problems({ ...base, store: { url: 'postgres://db/x' } }), [
    'store.driver is required with url: set it to "postgres"'
  ])
  t.same(problems({ ...base, store: { driver: 'sqlite', synchronous: 'OFF' } }), [
    'store.synchronous must be one of "FULL", "NORMAL"'
  ])
  t.same(problems({ ...base, store: { path: './x.db', pth: './y.db' } }), [
    'store.pth is not a known field: did you mean "path"?'
  ])
  t.same(problems({ ...base, store: { driver: 'postgres', url: 'postgres://db/x', path: './x.db' } }), [
    'store.path is not a known field (known: driver, url, schema)'
  ])
  t.same(problems({ ...base, store: { driver: 'postgres', url: 'postgres://db/x', schema: 'Relay' } }), [
    'store.schema must be a PostgreSQL schema name of lower-case letters, digits and _, not starting with a digit, at most 63 characters'
  ])
  t.same(problems({ ...base, store: 'sqlite' }), ['store must be an object'])
})

t.test('other unions: each explained as the form that was meant, never cut off', async t => {
  t.same(problems({ ...base, routes: [{ to: ['console'], match: { type: 'answer' } }] }), [
    'routes.0.match.type must be one of "ANSWER", "QUESTION"'
  ])
  t.same(problems({ ...base, routes: [{ to: ['console'], match: { source: 5 } }] }), [
    'routes.0.match.source must be a string or an array'
  ])
  t.same(problems({ ...base, routes: [{ to: ['console'], match: { source: [] } }] }), [
    'routes.0.match.source must have at least 1 item(s)'
  ])
  t.same(await relayProblems({ type: 'discord', token: 't', channel: '112233445566778899', autoArchiveMinutes: 30 }), [
    'relays.r.autoArchiveMinutes must be 60, 1440, 4320 or 10080'
  ])
  for (const line of problems({ ...base, store: { path: 5, synchronous: 1 }, server: { port: 'x' } }))
    t.notMatch(line, /must be $|must be one of $/, `complete: ${line}`)
})

t.test('a channel name where an id belongs: what an id looks like and where to copy it', async t => {
  const slack = await relayProblems({ type: 'slack', token: 'xoxb-1', channel: '#general' })
  t.equal(slack.length, 1)
  t.match(
    slack[0],
    /^relays\.r\.channel must be a channel ID such as C0123ABCD, not a channel name .*copy the Channel ID/
  )
  t.notMatch(slack[0], /\^\[CGD\]|pattern/, 'no raw regex')
  const discord = await relayProblems({ type: 'discord', token: 't', channel: '#general' })
  t.equal(discord.length, 1)
  t.match(discord[0], /^relays\.r\.channel must be a channel id, a long number .*Developer Mode.*Copy Channel ID/)
  t.notMatch(discord[0], /\[0-9\]|pattern/, 'no raw regex')
  const token = await relayProblems({ type: 'slack', token: 'xapp-1', channel: 'C0123' })
  t.match(token, [/^relays\.r\.token must be a Slack bot token starting with xoxb-/])
})

t.test('every missing environment variable at once', async t => {
  t.same(
    problems({
      auth: { tokens: ['${GPTBOTS_API_KEY}'] },
      relays: { slack: { type: 'slack', token: '${SLACK_BOT_TOKEN}', channel: '${SLACK_CHANNEL:-C0123}' } },
      admin: { token: '${ADMIN_TOKEN}' }
    }),
    [
      'auth.tokens.0: environment variable GPTBOTS_API_KEY is not set',
      'relays.slack.token: environment variable SLACK_BOT_TOKEN is not set',
      'admin.token: environment variable ADMIN_TOKEN is not set'
    ]
  )
})

t.test('bad JSON is reported by line and column', async t => {
  const dir = t.testdir({})
  const cases: [string, RegExp][] = [
    [
      '{\n  "auth": {"tokens": ["k"]},\n  "relays": {"c": {"type": "console"},}\n}\n',
      /:3:39: not valid JSON: a comma before \} or \] is not allowed in JSON$/
    ],
    [
      '{\n  "auth": {"tokens": ["k"]}\n  "relays": {}\n}\n',
      /:3:3: not valid JSON: Expected ',' or '\}' after property value$/
    ],
    ['// my relay\n{}\n', /:1:1: not valid JSON: JSON has no comments; remove the comment$/],
    ["{\n  'auth': 1\n}", /:2:3: not valid JSON: this is not a JSON value: strings need double quotes/],
    ['{\n  "auth": {"tokens": [k]}}', /:2:23: not valid JSON: this is not a JSON value/],
    ['{\n  "auth": {', /:2:12: not valid JSON: /]
  ]
  for (const [text, expected] of cases) {
    const file = join(dir, 'config.json')
    writeFileSync(file, text)
    t.throws(
      () => loadConfigFile(file, {}),
      { message: new RegExp(`^${file.replace(/[.]/g, '\\.')}${expected.source}`) },
      text
    )
  }
  writeFileSync(join(dir, 'bom.json'), `\uFEFF${JSON.stringify(base)}`)
  t.ok(loadConfigFile(join(dir, 'bom.json'), {}), 'a byte-order mark is not an error')
})

t.test('server.publicUrl: the URL to paste into GPTBots, never a local address', async t => {
  const server = (s: Record<string, unknown>) =>
    resolve({ ...base, server: s, auth: { tokens: ['k'], sources: { sales: { tokens: ['s'] } } } }).config
  t.equal(
    webhookAdvice(server({ publicUrl: 'https://relay.example.com/' }), 'http://127.0.0.1:8080'),
    'GPTBots webhook URL: https://relay.example.com/webhook (or /webhook/sales per source)'
  )
  const all = webhookAdvice(server({ host: '0.0.0.0', port: 8080 }), 'http://127.0.0.1:8080')
  t.match(all, /^GPTBots webhook URL: https:\/\/<this host's public address>\/webhook .*server\.publicUrl/)
  t.notMatch(all, /127\.0\.0\.1|0\.0\.0\.0/)
  t.notMatch(webhookAdvice(server({ host: '::' }), 'http://[::1]:8080'), /\[::1\]|127\.0\.0\.1/)
  t.match(
    webhookAdvice(server({ host: '127.0.0.1' }), 'http://127.0.0.1:8080'),
    /^only this machine can reach http:\/\/127\.0\.0\.1:8080: GPTBots calls the relay from the internet over HTTPS/
  )
  t.same(problems({ ...base, server: { publicUrl: 'relay.example.com' } }), [
    'server.publicUrl must be the URL at which GPTBots reaches this relay, starting with https://, such as https://relay.example.com'
  ])
})
