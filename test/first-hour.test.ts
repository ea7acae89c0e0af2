import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { freePort, runCli, startRelay, until } from './helpers/process.js'

const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }
const noConfigEnv = { GPTBOTS_RELAY_CONFIG: '', PORT: '' }

t.test('--version and -v print the version', async t => {
  for (const flag of ['--version', '-v']) {
    const result = await runCli([flag])
    t.equal(result.code, 0, flag)
    t.equal(result.stdout, `gptbots-relay ${version}\n`, flag)
  }
  const help = await runCli(['--help'])
  t.match(
    help.stdout,
    /send-test \[--url URL\] \[--token TOKEN\] \[--conversation ID\]/,
    'send-test shows --conversation'
  )
})

t.test('check-config finds the config the way start does', async t => {
  const dir = t.testdir({
    'config.json': JSON.stringify({ auth: { tokens: ['k'] }, relays: { out: { type: 'console' } } }),
    'other.json': JSON.stringify({
      auth: { tokens: ['k'] },
      relays: { a: { type: 'console' }, b: { type: 'console' } }
    }),
    empty: {}
  })
  const found = await runCli(['check-config'], { cwd: dir, env: noConfigEnv })
  t.equal(found.code, 0, found.stderr)
  t.match(found.stdout, /config\.json is valid: 1 relay\(s\)/)
  const fromEnv = await runCli(['check-config'], { cwd: dir, env: { GPTBOTS_RELAY_CONFIG: join(dir, 'other.json') } })
  t.equal(fromEnv.code, 0, fromEnv.stderr)
  t.match(fromEnv.stdout, /other\.json is valid: 2 relay\(s\)/)
  const none = await runCli(['check-config'], { cwd: join(dir, 'empty'), env: noConfigEnv })
  t.equal(none.code, 1)
  t.equal(
    none.stderr,
    'config error: no config file to check: pass one (check-config FILE), set GPTBOTS_RELAY_CONFIG, or create ./config.json (start would run the built-in default: the console relay on 127.0.0.1)\n'
  )
})

t.test('a misspelt relay type lists the built-in types and suggests the nearest', async t => {
  const dir = t.testdir({
    'config.json': JSON.stringify({ auth: { tokens: ['k'] }, relays: { main: { type: 'slak' } } })
  })
  const result = await runCli(['check-config'], { cwd: dir, env: noConfigEnv })
  t.equal(result.code, 1)
  t.equal(
    result.stderr,
    `config error: ${join(dir, 'config.json')}: relays.main.type: "slak" is not a relay type: use a built-in type (console, slack, discord), a path to a plugin (such as ./plugins/http-forwarder), or the name of an installed npm package: did you mean "slack"?\n`
  )
  const started = await runCli(['start'], { cwd: dir, env: { ...noConfigEnv, PORT: String(await freePort()) } })
  t.equal(started.code, 1)
  t.match(started.stderr, /relays\.main\.type: "slak" is not a relay type: .*did you mean "slack"\?\n/)
  t.notMatch(started.stderr, /Cannot find package/)
})

t.test('missing environment variables: all of them in one run', async t => {
  const dir = t.testdir({
    'config.json': JSON.stringify({
      auth: { tokens: ['${GPTBOTS_API_KEY}'] },
      relays: { slack: { type: 'slack', token: '${SLACK_BOT_TOKEN}', channel: '${SLACK_CHANNEL}' } }
    })
  })
  const result = await runCli(['start'], {
    cwd: dir,
    env: { ...noConfigEnv, GPTBOTS_API_KEY: '', SLACK_BOT_TOKEN: '', SLACK_CHANNEL: '' }
  })
  t.equal(result.code, 1)
  t.equal(
    result.stderr,
    `config error: ${join(dir, 'config.json')}:\nauth.tokens.0: environment variable GPTBOTS_API_KEY is not set\nrelays.slack.token: environment variable SLACK_BOT_TOKEN is not set\nrelays.slack.channel: environment variable SLACK_CHANNEL is not set\n`
  )
})

t.test('start prints the public URL to paste into GPTBots; send-test says how to pass a token', async t => {
  const dir = t.testdir({
    'config.json': JSON.stringify({
      server: { host: '127.0.0.1', publicUrl: 'https://relay.example.com' },
      auth: { tokens: ['k-123456'] },
      relays: { out: { type: 'console' } }
    })
  })
  const relay = await startRelay(t, ['start'], { cwd: dir, env: { GPTBOTS_RELAY_CONFIG: '' } })
  // The line follows the listen; /healthz may answer before it is written.
  t.ok(await until(() => relay.stderr().includes('GPTBots webhook URL')), relay.stderr())
  t.match(relay.stderr(), /GPTBots webhook URL: https:\/\/relay\.example\.com\/webhook/)
  const url = `${relay.url}/webhook`
  const without = await runCli(['send-test', '--url', url], { env: { GPTBOTS_API_KEY: '' } })
  t.equal(without.code, 1)
  t.match(
    without.stdout,
    /HTTP 401 .*\nthe relay wants a token: pass --token TOKEN, or set the GPTBOTS_API_KEY environment variable/
  )
  const wrong = await runCli(['send-test', '--url', url, '--token', 'nope'])
  t.equal(wrong.code, 1)
  t.match(wrong.stdout, /HTTP 401 .*\nthe relay refused this token: pass one of the tokens in its config/)
  relay.child.kill('SIGTERM')
  await relay.exited
  const unreachable = await runCli(['send-test', '--url', url])
  t.equal(unreachable.code, 1)
  t.match(unreachable.stderr, /^cannot reach the relay at http:\/\/127\.0\.0\.1:\d+\/webhook: .*\(is it running\?/)
})

t.test('listening on all interfaces: the advice names no local address', async t => {
  const dir = t.testdir({
    'config.json': JSON.stringify({
      server: { host: '0.0.0.0' },
      auth: { tokens: ['k'] },
      relays: { out: { type: 'console' } }
    })
  })
  const relay = await startRelay(t, ['start'], { cwd: dir, env: { GPTBOTS_RELAY_CONFIG: '' } })
  t.ok(await until(() => relay.stderr().includes('GPTBots webhook URL')), relay.stderr())
  const advice = relay
    .stderr()
    .split('\n')
    .find(line => line.includes('GPTBots webhook URL'))
  t.ok(advice, relay.stderr())
  t.match(advice, /https:\/\/<this host's public address>\/webhook/)
  t.notMatch(advice, /127\.0\.0\.1|0\.0\.0\.0/)
  relay.child.kill('SIGTERM')
  t.equal(await relay.exited, 0)
})
