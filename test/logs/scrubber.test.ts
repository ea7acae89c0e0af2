import { Writable } from 'node:stream'
import t from 'tap'
import { resolveConfig } from '../../src/config/load.js'
import { configSecrets, createLogger, scrubSecretsOf, secretScrubber } from '../../src/ops/logging.js'

const config = (relays: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
  resolveConfig(
    {
      auth: { tokens: ['webhook-token-default'], sources: { sales: { tokens: ['webhook-token-sales'] } } },
      admin: { token: 'admin-token-0123456789' },
      relays,
      ...extra
    },
    { configDir: process.cwd(), env: {} }
  ).config

/** A logger writing into an array, so a test sees each finished line. */
function capture(cfg = config({}), isTTY = false) {
  const lines: string[] = []
  const destination = new Writable({
    write(chunk, _encoding, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean))
      done()
    }
  })
  return { logger: createLogger(cfg, { destination, isTTY }), lines }
}

t.test('configSecrets finds tokens, the admin token, the store password and secret-looking relay options', async t => {
  const found = configSecrets(
    config(
      {
        'slack.main': { type: 'slack', token: 'xoxb-relay-token', channel: 'C1', threadTitle: 'not secret at all' },
        hook: {
          type: './plugins/http-forwarder',
          url: 'https://user:url-password@example.com/in',
          secret: 'forwarder-secret',
          headers: { 'X-Api-Key': 'header-api-key', Accept: 'application/json' }
        },
        disc: {
          type: 'discord',
          webhookUrl: 'https://discord.com/api/webhooks/1/abc',
          nested: { signingSecret: 'nested-signing' }
        }
      },
      { store: { driver: 'postgres', url: 'postgres://relay:pg-password@db:5432/relay' } }
    )
  )
  for (const secret of [
    'webhook-token-default',
    'webhook-token-sales',
    'admin-token-0123456789',
    'pg-password',
    'xoxb-relay-token',
    'url-password',
    'forwarder-secret',
    'header-api-key',
    'https://discord.com/api/webhooks/1/abc',
    'nested-signing'
  ]) {
    t.ok(found.includes(secret), `finds ${secret}`)
  }
  for (const plain of [
    'not secret at all',
    'application/json',
    'C1',
    'slack',
    'https://user:url-password@example.com/in'
  ]) {
    t.notOk(found.includes(plain), `leaves ${plain}`)
  }
})

t.test('secretScrubber replaces every occurrence, keeps the line valid JSON and leaves other lines alone', async t => {
  const scrub = secretScrubber(['sekret-one', 'sekret-one-longer', 'quote"d\\secret', 'tiny'])
  const line = JSON.stringify({
    msg: 'failed: sekret-one and sekret-one-longer',
    err: { message: 'x quote"d\\secret y' },
    word: 'tiny'
  })
  const out = scrub(line)
  t.notMatch(out, /sekret/)
  t.notMatch(out, /quote/)
  t.same(
    JSON.parse(out),
    { msg: 'failed: [redacted] and [redacted]', err: { message: 'x [redacted] y' }, word: 'tiny' },
    'short strings are not treated as secrets'
  )
  const plain = JSON.stringify({ msg: 'delivered', relay: 'slack.main' })
  t.equal(scrub(plain), plain)
  t.equal(secretScrubber([])(plain), plain, 'nothing to do without secrets')
})

t.test('secretScrubber removes Authorization values in any casing and credentials quoted in text', async t => {
  const scrub = secretScrubber([])
  const line = JSON.stringify({
    err: {
      config: { headers: { AUTHORIZATION: 'Bearer unknown-token-1', 'Proxy-Authorization': 'Basic dXNlcjpwYXNz' } }
    },
    msg: 'sent Bearer unknown-token-2 to them'
  })
  const out = JSON.parse(scrub(line))
  t.same(out, {
    err: { config: { headers: { AUTHORIZATION: '[redacted]', 'Proxy-Authorization': '[redacted]' } } },
    msg: 'sent Bearer [redacted] to them'
  })
})

t.test('secretScrubber replaces secret-named fields at any depth, strings and arrays of strings', async t => {
  const scrub = secretScrubber([])
  const line = JSON.stringify({
    token: 'unknown-1',
    a: { b: { c: { password: 'unknown-2', signingSecret: 'unknown-"3"' } } },
    tokens: ['unknown-4', 'unknown-5'],
    list: [{ botToken: 'unknown-6' }],
    webhookUrl: 'https://example.com/hook/unknown-7',
    tokenCount: 3,
    secretary: 'kept',
    msg: 'the word token stays'
  })
  const out = scrub(line)
  t.notMatch(out, /unknown-/)
  t.same(JSON.parse(out), {
    token: '[redacted]',
    a: { b: { c: { password: '[redacted]', signingSecret: '[redacted]' } } },
    tokens: '[redacted]',
    list: [{ botToken: '[redacted]' }],
    webhookUrl: '[redacted]',
    tokenCount: 3,
    secretary: 'kept',
    msg: 'the word token stays'
  })
})

t.test('the logger scrubs by field and by value, child loggers included', async t => {
  const { logger, lines } = capture(
    config({ 'slack.main': { type: 'slack', token: 'xoxb-relay-token', channel: 'C1' } })
  )
  const child = logger.child({ relay: 'slack.main' })
  const err = Object.assign(new Error('call failed with xoxb-relay-token'), {
    config: { headers: { Authorization: 'Bearer xoxb-relay-token' } }
  })
  child.error({ err }, 'slack said no')
  logger.info(
    { req: { headers: { authorization: 'Basic c29tZW9uZTpzZWNyZXQ=' } } },
    'request with admin-token-0123456789 inside'
  )
  logger.info({ token: 'anything-at-all' }, 'a token field')
  logger.flush()
  const all = lines.join('\n')
  t.equal(lines.length, 3)
  for (const line of lines) JSON.parse(line)
  t.notMatch(all, /xoxb-relay-token|admin-token|c29tZW9uZTpzZWNyZXQ|anything-at-all/)
  t.match(all, /call failed with \[redacted\]/)
  t.match(JSON.parse(lines[0]!), {
    relay: 'slack.main',
    msg: 'slack said no',
    err: { config: { headers: { Authorization: '[redacted]' } } }
  })
})

t.test('format pretty writes readable lines, still scrubbed; auto follows the terminal', async t => {
  const pretty = capture(config({}, { log: { format: 'pretty' } }))
  pretty.logger.info({ conversationId: 'c-1' }, 'message accepted with webhook-token-sales')
  await new Promise(resolve => setTimeout(resolve, 50))
  const text = pretty.lines.join('\n')
  t.match(text, /INFO.*message accepted with \[redacted\]/)
  t.match(text, /message accepted with \[redacted\] · c-1/, 'the conversation is folded into the line')
  t.throws(() => JSON.parse(pretty.lines[0]!), 'not JSON')
  t.notMatch(text, /webhook-token-sales/)

  const onTerminal = capture(config({}, { log: { format: 'auto' } }), true)
  onTerminal.logger.info('hello')
  await new Promise(resolve => setTimeout(resolve, 50))
  t.throws(() => JSON.parse(onTerminal.lines[0]!), 'auto on a terminal is pretty')
  const piped = capture(config({}, { log: { format: 'auto' } }), false)
  piped.logger.info('hello')
  t.equal(JSON.parse(piped.lines[0]!).msg, 'hello', 'auto elsewhere is JSON')
})

t.test("a reload adds the new config's secrets and keeps scrubbing the old ones", async t => {
  const { logger, lines } = capture()
  const child = logger.child({ relay: 'slack.new' })
  scrubSecretsOf(
    logger,
    config(
      { 'slack.new': { type: 'slack', token: 'xoxb-added-by-reload', channel: 'C1' } },
      { admin: { token: 'admin-token-after-reload' } }
    )
  )
  child.info('posting with xoxb-added-by-reload, admin-token-after-reload and admin-token-0123456789')
  t.equal(JSON.parse(lines[0]!).msg, 'posting with [redacted], [redacted] and [redacted]')
})

t.test('a store URL: its password is hidden, its user name and the driver are not', async t => {
  const withoutPassword = config(
    {},
    { store: { driver: 'postgres', url: 'postgres://postgres@db.example:5432/relay' } }
  )
  const plain = capture(withoutPassword)
  plain.logger.info({ store: 'postgres', url: 'postgres://postgres@db.example:5432/relay' }, 'store postgres opened')
  plain.logger.flush()
  t.same(JSON.parse(plain.lines[0]!).store, 'postgres', 'the driver name stays')
  t.match(plain.lines[0], /"url":"postgres:\/\/postgres@db\.example:5432\/relay"/, 'the user name stays')
  t.match(plain.lines[0], /"msg":"store postgres opened"/)
  t.notMatch(plain.lines[0], /redacted/)

  const withPassword = config({}, { store: { driver: 'postgres', url: 'postgres://u:pw-secret-1@db.example/relay' } })
  const hidden = capture(withPassword)
  hidden.logger.info({ store: 'postgres', url: 'postgres://u:pw-secret-1@db.example/relay' }, 'connecting')
  hidden.logger.flush()
  t.match(hidden.lines[0], /"url":"postgres:\/\/u:\[redacted\]@db\.example\/relay"/, 'the password is hidden, u stays')
  t.notMatch(hidden.lines[0], /pw-secret-1/)
  t.same(JSON.parse(hidden.lines[0]!).store, 'postgres')
})
