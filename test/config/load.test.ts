import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { defaultConfig, loadConfigFile, resolveConfig } from '../../src/config/load.js'
import { ConfigError } from '../../src/errors.js'
import { prepareRelay } from '../../src/relays/loader.js'

const base = { auth: { tokens: ['k'] }, relays: { console: { type: 'console' } } }
const resolve = (raw: unknown, env: NodeJS.ProcessEnv = {}) => resolveConfig(raw, { configDir: process.cwd(), env })

t.test('defaults fill everything left out, and the result is frozen', async t => {
  const { config } = resolve(base)
  t.match(config, {
    server: { host: '0.0.0.0', port: 8080, bodyLimit: 1048576 },
    // Relative paths are read relative to the config file, here the working directory.
    store: { driver: 'sqlite', path: join(process.cwd(), 'data/relay.db'), synchronous: 'FULL' },
    dispatch: { concurrency: 16, maxAttempts: 12 },
    auth: { allowUnauthenticated: false, sources: {} }
  })
  t.ok(Object.isFrozen(config.server))
  t.throws(() => {
    ;(config.server as { port: number }).port = 1
  })
})

t.test('each mistake is named by its path and reason', async t => {
  const cases: [unknown, RegExp][] = [
    [{ auth: { tokens: ['k'] } }, /^relays is required$/],
    [{ ...base, server: { port: 'eighty' } }, /^server\.port must be an integer$/],
    [{ ...base, server: { port: 70000 } }, /^server\.port must be at most 65535$/],
    [{ ...base, server: { prot: 1 } }, /^server\.prot is not a known field: did you mean "port"\?$/],
    [{ ...base, dispatch: { concurrency: 0 } }, /^dispatch\.concurrency must be at least 1$/],
    [{ ...base, relays: { x: {} } }, /^relays\.x\.type is required$/],
    [
      { ...base, routes: [{ to: ['nope'] }] },
      /^routes\.0\.to\.0 names relay "nope", which is not in relays \(known: console\)$/
    ],
    [
      { ...base, routes: [{ match: { conversation: '(' }, to: ['console'] }] },
      /^routes\.0\.match\.conversation is not a valid regular expression/
    ],
    [{ ...base, routes: [{ match: { type: 'ANSWERS' }, to: ['console'] }] }, /^routes\.0\.match\.type /],
    [
      { relays: {} },
      /^auth\.tokens is empty: set the GPTBots API key as a token .* or set auth\.allowUnauthenticated to true/
    ],
    [{ ...base, auth: { tokens: ['k'], sources: { 'bad name': { tokens: ['x'] } } } }, /auth\.sources/],
    [{ ...base, store: { driver: 'mysql' } }, /^store/],
    [[1], /^the config must be a JSON object$/]
  ]
  for (const [raw, message] of cases) {
    const error = t.throws(() => resolve(raw), ConfigError) as Error
    t.match(error.message, message, JSON.stringify(raw))
  }
})

t.test('${VAR}, ${VAR:-default}, ${file:path} and $${ in any string', async t => {
  const dir = t.testdir({ 'key.txt': 'from-a-file\n' })
  const { config } = resolveConfig(
    {
      auth: { tokens: ['${API_KEY}', '${file:key.txt}', 'literal $${NOT_A_VAR}'] },
      relays: { console: { type: 'console', stream: '${STREAM:-stderr}' } }
    },
    { configDir: dir, env: { API_KEY: 'from-env' } }
  )
  t.same(config.auth.tokens, ['from-env', 'from-a-file', 'literal ${NOT_A_VAR}'])
  t.equal((config.relays.console as { stream?: string }).stream, 'stderr')
  t.throws(
    () => resolve({ ...base, auth: { tokens: ['${MISSING_KEY}'] } }),
    /^auth\.tokens\.0: environment variable MISSING_KEY is not set$/
  )
  t.throws(
    () => resolveConfig({ ...base, auth: { tokens: ['${file:absent.txt}'] } }, { configDir: dir, env: {} }),
    /^auth\.tokens\.0: cannot read secret file .*absent\.txt/
  )
  t.throws(() => resolve({ ...base, auth: { tokens: ['${not valid}'] } }), /is not a valid placeholder/)
})

t.test('PORT overrides server.port', async t => {
  t.equal(resolve(base, { PORT: '9123' }).config.server.port, 9123)
  t.throws(() => resolve(base, { PORT: 'http' }), /^PORT: "http" is not a port number$/)
})

t.test('a file: unreadable, invalid JSON, or invalid content names the file', async t => {
  const dir = t.testdir({ 'broken.json': '{"relays": ', 'bad.json': JSON.stringify({ relays: {} }) })
  t.throws(() => loadConfigFile(join(dir, 'absent.json')), /cannot read config file .*absent\.json/)
  t.throws(() => loadConfigFile(join(dir, 'broken.json')), /broken\.json:\d+:\d+: not valid JSON/)
  t.throws(() => loadConfigFile(join(dir, 'bad.json'), {}), /bad\.json: auth\.tokens is empty/)
})

t.test('the default config runs the console relay, open only on this machine', async t => {
  const { config, file } = defaultConfig({})
  t.equal(file, undefined)
  t.equal(config.server.host, '127.0.0.1')
  t.equal(config.auth.allowUnauthenticated, true)
  t.same(Object.keys(config.relays), ['console'])
})

t.test("relay options are checked against the plugin's schema, naming relay and field", async t => {
  await t.rejects(
    prepareRelay('shout', { type: 'console', stream: 'stdin' } as { type: string }, process.cwd()),
    /^relays\.shout\.stream must be one of "stdout", "stderr"$/
  )
  await t.rejects(
    prepareRelay('shout', { type: 'console', colour: true } as { type: string }, process.cwd()),
    /^relays\.shout\.colour is not a known field: did you mean "color"\?$/
  )
  await t.rejects(
    prepareRelay('x', { type: 'no-such-relay-package' }, process.cwd()),
    /^relays\.x\.type: "no-such-relay-package" is not a relay type: use a built-in type \(console, slack, discord\)/
  )
  await t.rejects(
    prepareRelay('x', { type: './no/such/dir' }, process.cwd()),
    /relays\.x\.type: cannot load relay plugin "\.\/no\/such\/dir": no plugin found/
  )
  await t.rejects(
    prepareRelay(
      'slack.support',
      { type: 'slack', token: 'xoxb-1', chanel: 'C123' } as { type: string },
      process.cwd()
    ),
    /^relays\.slack\.support\.channel is required \(or "channels", for several\)\nrelays\.slack\.support\.chanel is not a known field: did you mean "channel"\?$/
  )
  await t.rejects(
    prepareRelay(
      'discord.main',
      { type: 'discord', token: 't', channel: '112233445566778899', mode: 'threads' } as { type: string },
      process.cwd()
    ),
    /^relays\.discord\.main\.mode must be one of/
  )
  const dir = t.testdir({ 'not-a-plugin.mjs': 'export const hello = 1' })
  await t.rejects(
    prepareRelay('x', { type: './not-a-plugin.mjs' }, dir),
    /is not a relay plugin: it must export type, options \(a TypeBox schema\) and create\(\)/
  )
})

t.test('config.example.json is valid and documents every top-level section', async t => {
  const dir = t.testdir({ secrets: { 'sales-bot-api-key': 'sales-key' } })
  const example = JSON.parse(readFileSync('config.example.json', 'utf8'))
  mkdirSync(join(dir, 'plugins'), { recursive: true })
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...example, $schema: undefined }))
  const loaded = loadConfigFile(join(dir, 'config.json'), {
    GPTBOTS_API_KEY: 'k',
    AUDIT_SECRET: 'sixteen-chars-or-more'
  })
  t.same(
    Object.keys(example)
      .filter(k => k !== '$schema')
      .sort(),
    ['auth', 'dispatch', 'log', 'relays', 'routes', 'server', 'store']
  )
  for (const [name, entry] of Object.entries(loaded.config.relays)) {
    await t.resolves(prepareRelay(name, entry, process.cwd()), `relay ${name} options are valid`)
  }
})
