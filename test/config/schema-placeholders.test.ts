import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Ajv } from 'ajv'
import t from 'tap'

// What an editor does with "$schema": a standard draft-07 validator, every error, no relay code.
const schema = JSON.parse(readFileSync('config.schema.json', 'utf8'))
const ajv = new Ajv({ allErrors: true, strict: false })
const validate = ajv.compile(schema)
const errors = (config: unknown) => {
  validate(config)
  return (validate.errors ?? []).map(e => `${e.instancePath} ${e.message}`)
}

const configFiles = ['examples', 'container'].flatMap(dir =>
  readdirSync(dir)
    .filter(f => f.endsWith('.json'))
    .map(f => join(dir, f))
)

t.test(
  'every config in examples/ and container/, and config.example.json, is valid against config.schema.json',
  async t => {
    t.ok(configFiles.length >= 5, configFiles.join(', '))
    for (const file of [...configFiles, 'config.example.json']) {
      const config = JSON.parse(readFileSync(file, 'utf8'))
      t.equal(config.$schema?.endsWith('config.schema.json'), true, `${file} names the schema`)
      t.same(errors(config), [], file)
    }
  }
)

t.test('a ${VAR} is accepted wherever the relay fills it in', async t => {
  const config = {
    server: { port: '${PORT}', publicUrl: '${PUBLIC_URL}' },
    auth: { tokens: ['${GPTBOTS_API_KEY}'], allowUnauthenticated: '${OPEN:-false}' },
    dispatch: { concurrency: '${CONCURRENCY:-16}' },
    log: { level: '${LOG_LEVEL}' },
    admin: { token: '${file:/run/secrets/admin}' },
    relays: { s: { type: 'slack', token: '${SLACK_BOT_TOKEN}', channel: '${SLACK_CHANNEL_ID}', customize: '${C}' } }
  }
  t.same(errors(config), [])
})

t.test('literal values are still checked', async t => {
  const wrong = {
    server: { port: 'eighty', publicUrl: 'relay.example.com' },
    dispatch: { concurrency: 2.5 },
    log: { level: 'loud' },
    admin: { token: 'short' },
    relays: { s: { type: 'slack', token: 'xapp-1', channel: '#general', customize: 'yes' } }
  }
  const found = errors(wrong)
  for (const path of [
    '/server/port',
    '/server/publicUrl',
    '/dispatch/concurrency',
    '/log/level',
    '/admin/token',
    '/relays/s/token',
    '/relays/s/channel',
    '/relays/s/customize'
  ])
    t.ok(
      found.some(e => e.startsWith(`${path} `)),
      `${path} is refused`
    )
  t.notSame(errors({ relays: {}, server: { port: '${PORT} and more' } }), [], 'a number is one placeholder or nothing')
})
