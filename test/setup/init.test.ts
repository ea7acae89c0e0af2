import { readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { onlyThese } from '../examples/env.js'
import { runCli } from '../helpers/process.js'

const secrets = {
  gptbots: 'app-4f1c9d2e8b7a6c5d4e3f2a1b',
  slack: 'xoxb-1234567890-1234567890123-AbCdEfGhIjKlMnOp',
  discord: 'MTIzNDU2Nzg5MDEyMzQ1Njc4.GaBcDe.AbCdEfGhIjKlMnOpQrStUvWxYz0123456789ab'
}
const flags = [
  '--platforms',
  'slack,discord',
  '--gptbots-key',
  secrets.gptbots,
  '--slack-token',
  secrets.slack,
  '--slack-channel',
  'C0123ABCD',
  '--discord-token',
  secrets.discord,
  '--discord-channel',
  '1123456789012345678',
  '--discord-mode',
  'forum'
]

t.test(
  'init from flags, without a terminal: config.json with ${VAR}s, the secrets in a 0600 .env, none printed',
  async t => {
    const dir = t.testdir({})
    const run = await runCli(['init', ...flags, '--dir', dir], { env: onlyThese({}) })
    t.equal(run.code, 0, run.stderr)
    const configText = readFileSync(join(dir, 'config.json'), 'utf8')
    const config = JSON.parse(configText)
    t.match(config, {
      auth: { tokens: ['${GPTBOTS_API_KEY}'] },
      relays: {
        slack: { type: 'slack', token: '${SLACK_BOT_TOKEN}', channel: 'C0123ABCD' },
        discord: { type: 'discord', token: '${DISCORD_BOT_TOKEN}', channel: '1123456789012345678', mode: 'forum' }
      }
    })
    t.match(config.$schema, /config\.schema\.json$/)
    const env = readFileSync(join(dir, '.env'), 'utf8')
    t.equal(statSync(join(dir, '.env')).mode & 0o777, 0o600, '.env is readable by its owner alone')
    for (const [name, value] of [
      ['GPTBOTS_API_KEY', secrets.gptbots],
      ['SLACK_BOT_TOKEN', secrets.slack],
      ['DISCORD_BOT_TOKEN', secrets.discord]
    ])
      t.match(env, `${name}=${value}\n`, `.env holds ${name}`)
    for (const secret of Object.values(secrets)) {
      t.notMatch(configText, secret, 'no secret in config.json')
      t.notMatch(run.stdout + run.stderr, secret, 'no secret printed')
    }

    // The result runs as it is: the relay reads the .env beside its config, with nothing exported.
    const check = await runCli(['check-config', join(dir, 'config.json')], { env: onlyThese({}) })
    t.equal(check.code, 0, check.stderr)
    t.match(check.stdout, /is valid: 2 relay\(s\)/)
    // A variable set in the environment wins over the file.
    const overridden = await runCli(['check-config', join(dir, 'config.json')], {
      env: onlyThese({ SLACK_BOT_TOKEN: 'not-a-slack-token' })
    })
    t.equal(overridden.code, 1)
    t.match(overridden.stderr, /relays\.slack\.token must be a Slack bot token/)
  }
)

t.test('init refuses to replace config.json or .env without --force', async t => {
  const dir = t.testdir({ 'config.json': '{"mine": true}\n' })
  const refused = await runCli(['init', ...flags, '--dir', dir], { env: onlyThese({}) })
  t.equal(refused.code, 1)
  t.match(refused.stderr, /config\.json already exists: pass --force to replace/)
  t.equal(readFileSync(join(dir, 'config.json'), 'utf8'), '{"mine": true}\n', 'untouched')
  t.throws(() => statSync(join(dir, '.env')), 'and no .env written')
  writeFileSync(join(dir, '.env'), 'OLD=1\n', { mode: 0o644 })
  const forced = await runCli(['init', ...flags, '--dir', dir, '--force'], { env: onlyThese({}) })
  t.equal(forced.code, 0, forced.stderr)
  t.match(readFileSync(join(dir, 'config.json'), 'utf8'), /SLACK_BOT_TOKEN/)
  t.equal(statSync(join(dir, '.env')).mode & 0o777, 0o600, 'a replaced .env is made private too')
})

t.test('init without a terminal names every value it lacks; tokens may come from the environment', async t => {
  const dir = t.testdir({})
  const lacking = await runCli(['init', '--platforms', 'slack', '--dir', dir], { env: onlyThese({}) })
  t.equal(lacking.code, 1)
  t.match(
    lacking.stderr,
    /--gptbots-key \(or \$GPTBOTS_API_KEY\), --slack-token \(or \$SLACK_BOT_TOKEN\), --slack-channel/
  )
  const fromEnv = await runCli(['init', '--platforms', 'slack', '--dir', dir], {
    env: onlyThese({ GPTBOTS_API_KEY: secrets.gptbots, SLACK_BOT_TOKEN: secrets.slack, SLACK_CHANNEL_ID: 'C0123ABCD' })
  })
  t.equal(fromEnv.code, 0, fromEnv.stderr)
  t.match(readFileSync(join(dir, '.env'), 'utf8'), `SLACK_BOT_TOKEN=${secrets.slack}`)
  const wrong = await runCli(['init', '--platforms', 'slack', '--slack-token', 'xapp-1', '--dir', t.testdir({})], {
    env: onlyThese({ GPTBOTS_API_KEY: 'k', SLACK_CHANNEL_ID: 'C0123ABCD' })
  })
  t.equal(wrong.code, 1)
  t.match(wrong.stderr, /--slack-token: a Slack bot token starts with xoxb-/)
})
