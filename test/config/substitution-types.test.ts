import { join, resolve as resolvePath } from 'node:path'
import { mkdirSync, writeFileSync } from 'node:fs'
import t from 'tap'
import { loadConfigFile, resolveConfig } from '../../src/config/load.js'
import { ConfigError } from '../../src/errors.js'
import { prepareRelay } from '../../src/relays/loader.js'

const base = { auth: { tokens: ['k'] }, relays: { console: { type: 'console' } } }
const resolve = (raw: unknown, env: NodeJS.ProcessEnv = {}) => resolveConfig(raw, { configDir: process.cwd(), env })
const problems = (raw: unknown, env: NodeJS.ProcessEnv = {}) => {
  try {
    resolve(raw, env)
    return []
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    return error.message.split('\n')
  }
}

t.test('a ${VAR} where the schema wants a number, an integer or a boolean becomes one', async t => {
  const { config } = resolve(
    {
      ...base,
      dispatch: { concurrency: '${CONCURRENCY}', maxAttempts: '${ATTEMPTS:-7}' },
      retention: { deliveredHours: '${HOURS}' },
      metrics: { enabled: '${METRICS}' },
      auth: { tokens: ['k'], allowUnauthenticated: '${OPEN:-false}' }
    },
    { CONCURRENCY: '4', HOURS: '1.5', METRICS: 'FALSE' }
  )
  t.equal(config.dispatch.concurrency, 4)
  t.equal(config.dispatch.maxAttempts, 7, 'the default of ${VAR:-default} too')
  t.equal(config.retention.deliveredHours, 1.5)
  t.equal(config.metrics.enabled, false)
  t.equal(config.auth.allowUnauthenticated, false)
})

t.test('a ${VAR} that cannot be what the schema wants: one error, naming the path and the variable', async t => {
  t.same(problems({ ...base, dispatch: { concurrency: '${CONCURRENCY}' } }, { CONCURRENCY: 'lots' }), [
    'dispatch.concurrency: ${CONCURRENCY} is "lots", which is not an integer'
  ])
  t.same(
    problems({ ...base, retention: { deliveredHours: '${HOURS}' } }, { HOURS: '1.5' }),
    [],
    'a number may have a fraction'
  )
  t.same(problems({ ...base, dispatch: { concurrency: '${CONCURRENCY}' } }, { CONCURRENCY: '2.5' }), [
    'dispatch.concurrency: ${CONCURRENCY} is "2.5", which is not an integer'
  ])
  t.same(problems({ ...base, metrics: { enabled: '${METRICS}' } }, { METRICS: 'yes' }), [
    'metrics.enabled: ${METRICS} is "yes", which is not true or false'
  ])
  t.same(
    problems({ ...base, dispatch: { concurrency: '${CONCURRENCY}' } }, { CONCURRENCY: '0' }),
    ['dispatch.concurrency must be at least 1'],
    'a number from a variable is checked like a literal one'
  )
})

t.test('literal values are not turned: a quoted number in the file is still an error', async t => {
  t.same(problems({ ...base, dispatch: { concurrency: '4' } }), ['dispatch.concurrency must be an integer'])
  t.same(problems({ ...base, log: { level: '${LEVEL}' } }, { LEVEL: 'debug' }), [], 'a string stays a string')
})

t.test("a relay's options take typed ${VAR}s too", async t => {
  const { config } = resolve(
    {
      auth: { tokens: ['k'] },
      relays: {
        'slack.support': {
          type: 'slack',
          token: 'xoxb-1',
          channel: 'C0123ABCD',
          customize: '${CUSTOMIZE}',
          maxPartLength: '${PART}'
        }
      }
    },
    { CUSTOMIZE: 'true', PART: '3000' }
  )
  const prepared = await prepareRelay('slack.support', config.relays['slack.support']!, process.cwd())
  t.match(prepared.options, { customize: true, maxPartLength: 3000 })
  const bad = resolve(
    {
      auth: { tokens: ['k'] },
      relays: { s: { type: 'slack', token: 'xoxb-1', channel: 'C0123ABCD', customize: '${C}' } }
    },
    { C: 'sure' }
  )
  await t.rejects(prepareRelay('s', bad.config.relays.s!, process.cwd()), {
    message: 'relays.s.customize: ${C} is "sure", which is not true or false'
  })
})

t.test('missing variables do not hide the other problems', async t => {
  t.same(
    problems({
      auth: { tokens: ['${KEY}'] },
      relays: { console: { type: 'console' } },
      server: { port: 'x' },
      admin: { token: '${ADMIN}' }
    }),
    [
      'auth.tokens.0: environment variable KEY is not set',
      'admin.token: environment variable ADMIN is not set',
      'server.port must be an integer'
    ]
  )
})

t.test(
  'store.path is relative to the config file; one found only from the working directory is kept, with a warning',
  async t => {
    const dir = t.testdir({ etc: {}, work: { data: {} } })
    const config = join(dir, 'etc', 'relay.json')
    writeFileSync(config, JSON.stringify({ ...base, store: { path: './data/relay.db' } }))
    const cwd = process.cwd()
    process.chdir(join(dir, 'work'))
    t.teardown(() => process.chdir(cwd))
    const fresh = loadConfigFile(config, {})
    t.equal(fresh.config.store.driver === 'sqlite' && fresh.config.store.path, join(dir, 'etc', 'data', 'relay.db'))
    t.same(fresh.warnings, [])
    writeFileSync(join(dir, 'work', 'data', 'relay.db'), '')
    const legacy = loadConfigFile(config, {})
    t.equal(legacy.config.store.driver === 'sqlite' && legacy.config.store.path, resolvePath('data/relay.db'))
    t.match(legacy.warnings, [
      /^store\.path "\.\/data\/relay\.db" is read relative to the config file \(.*etc\/data\/relay\.db\), but the store is at .*work\/data\/relay\.db/
    ])
    mkdirSync(join(dir, 'etc', 'data'))
    writeFileSync(join(dir, 'etc', 'data', 'relay.db'), '')
    const both = loadConfigFile(config, {})
    t.equal(
      both.config.store.driver === 'sqlite' && both.config.store.path,
      join(dir, 'etc', 'data', 'relay.db'),
      'beside the config wins'
    )
    t.same(both.warnings, [])
  }
)
