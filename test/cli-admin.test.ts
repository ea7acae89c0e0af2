import { rmSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { freePort, runCli, startRelay, until } from './helpers/process.js'

const ADMIN = 'admin-token-0123456789'

const message = (id: string, conversation: string) =>
  JSON.stringify({
    message_id: id,
    message_type: 'ANSWER',
    text: `text of ${id}`,
    create_time: 1679587005,
    conversation_id: conversation
  })

t.test('each admin command has --help, and the main help lists them', async t => {
  const main = await runCli(['--help'])
  t.match(main.stdout, / {2}dead-letters .*\n {2}replay .*\n.*\n {2}conversations /)
  for (const command of ['dead-letters', 'replay', 'conversations']) {
    const help = await runCli([command, '--help'])
    t.equal(help.code, 0, command)
    t.match(help.stdout, new RegExp(`^Usage: gptbots-relay ${command}`), command)
    t.match(help.stdout, /--admin-token T .*GPTBOTS_RELAY_ADMIN_TOKEN/)
  }
  const wrong = await runCli(['dead-letters', '--to', 'x'])
  t.equal(wrong.code, 1)
  t.match(wrong.stderr, /dead-letters does not take --to/)
  const ambiguous = await runCli(['replay', '12', '--relay', 'x'])
  t.equal(ambiguous.code, 1)
  t.match(ambiguous.stderr, /replay needs exactly one of/)
})

t.test('an unreachable relay and a disabled admin API are explained, with exit code 1', async t => {
  const port = await freePort()
  const down = await runCli(['dead-letters', '--url', `http://127.0.0.1:${port}`, '--admin-token', ADMIN])
  t.equal(down.code, 1)
  t.match(
    down.stderr,
    new RegExp(`cannot reach the relay at http://127\\.0\\.0\\.1:${port}: ECONNREFUSED; is it running there\\?`)
  )
  t.notMatch(down.stderr, /at .*\.js:\d+/, 'no stack trace')

  const dir = t.testdir({
    'relay.json': JSON.stringify({
      auth: { tokens: ['k'] },
      store: { driver: 'sqlite', path: 'relay.db' },
      relays: { c: { type: 'console' } }
    })
  })
  const relay = await startRelay(t, ['start', '--config', join(dir, 'relay.json')], { cwd: dir })
  const disabled = await runCli(['conversations', '--url', relay.url, '--admin-token', ADMIN])
  t.equal(disabled.code, 1)
  t.match(
    disabled.stderr,
    /the admin API of the relay at http:\/\/127\.0\.0\.1:\d+ is disabled: set admin\.token in its config/
  )
})

t.test('dead-letters, replay and conversations against a running relay', async t => {
  const dir = t.testdir({
    'relay.json': JSON.stringify({
      auth: { tokens: ['k'] },
      admin: { token: '${ADMIN}' },
      store: { driver: 'sqlite', path: 'relay.db' },
      relays: { flaky: { type: './flaky.js' }, extra: { type: './flaky.js' } },
      routes: [{ to: ['flaky'] }]
    }),
    // Fails for good while the file "down" exists, as a platform with a revoked channel would.
    'flaky.js': `
      import { existsSync } from 'node:fs'
      export default {
        type: 'flaky',
        options: { type: 'object', properties: {} },
        create(_options, init) {
          return {
            async deliver(message) {
              if (existsSync('down')) return { status: 'failed', error: 'channel_not_found' }
              process.stdout.write(init.name + ' got ' + message.messageId + '\\n')
              return { status: 'delivered' }
            }
          }
        }
      }`,
    'package.json': '{"type":"module"}',
    down: ''
  })
  const relay = await startRelay(t, ['start', '--config', join(dir, 'relay.json')], { cwd: dir, env: { ADMIN } })
  for (const [id, conversation] of [
    ['m1', 'c1'],
    ['m2', 'c1'],
    ['x1', 'c2']
  ]) {
    const res = await fetch(`${relay.url}/webhook`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer k' },
      body: message(id!, conversation!)
    })
    t.equal(res.status, 200)
  }
  const deadCount = async () =>
    (
      (await (
        await fetch(`${relay.url}/admin/dead-letters`, { headers: { authorization: `Bearer ${ADMIN}` } })
      ).json()) as { deadLetters: unknown[] }
    ).deadLetters.length
  t.ok(await until(async () => (await deadCount()) === 3), 'all three died')

  const cli = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    runCli(args, { env: { PORT: String(relay.port), GPTBOTS_RELAY_ADMIN_TOKEN: '', ...env } })

  const noToken = await cli(['dead-letters'])
  t.equal(noToken.code, 1)
  t.match(
    noToken.stderr,
    /no admin token given: pass the relay's admin\.token with --admin-token or \$GPTBOTS_RELAY_ADMIN_TOKEN/
  )
  const webhookToken = await cli(['dead-letters', '--admin-token', 'k'])
  t.equal(webhookToken.code, 1)
  t.match(webhookToken.stderr, /refused the admin token/)

  const list = await cli(['dead-letters'], { GPTBOTS_RELAY_ADMIN_TOKEN: ADMIN })
  t.equal(list.code, 0, list.stderr)
  t.match(list.stdout, /^ID +RELAY +CONVERSATION +MESSAGE +ATTEMPTS +DIED +LAST ERROR\n/)
  t.match(list.stdout, /\n\d+ +flaky +default\/c1 +m1 \(ANSWER\) +1 +\d{4}-\d\d-\d\dT[\d:]+Z +channel_not_found\n/)
  t.match(list.stdout, /\n3 dead letter\(s\)/)
  const json = await cli(
    ['dead-letters', '--json', '--conversation', 'c1', '--url', relay.url, '--admin-token', ADMIN],
    { PORT: '1' }
  )
  t.equal(json.code, 0, json.stderr)
  const letters = JSON.parse(json.stdout).deadLetters as { id: number; messageId: string }[]
  t.same(
    letters.map(d => d.messageId),
    ['m1', 'm2']
  )

  rmSync(join(dir, 'down'))
  const one = await cli(['replay', String(letters[0]!.id), '--admin-token', ADMIN])
  t.equal(one.code, 0, one.stderr)
  t.match(one.stdout, `replayed dead letter ${letters[0]!.id}`)
  t.ok(await until(() => relay.stdout().includes('flaky got m1')), 'm1 went out at once')
  t.notMatch(relay.stdout(), /flaky got m2/, 'm2 is still dead')

  const again = await cli(['replay', String(letters[0]!.id), '--admin-token', ADMIN])
  t.equal(again.code, 1)
  t.match(
    again.stderr,
    new RegExp(`the relay answered HTTP 409 CONFLICT: delivery ${letters[0]!.id} is delivered, not dead`)
  )
  const unknown = await cli(['replay', '999999', '--admin-token', ADMIN])
  t.equal(unknown.code, 1)
  t.match(unknown.stderr, /HTTP 404 NOT_FOUND: no delivery 999999 is stored/)

  const all = await cli(['replay', '--relay', 'flaky', '--admin-token', ADMIN])
  t.equal(all.code, 0, all.stderr)
  t.match(all.stdout, 'replayed 2 dead letter(s) of relay "flaky"')
  t.ok(await until(() => relay.stdout().includes('flaky got m2') && relay.stdout().includes('flaky got x1')))

  const conversations = await cli(['conversations', '--admin-token', ADMIN])
  t.equal(conversations.code, 0, conversations.stderr)
  t.match(conversations.stdout, /^CONVERSATION +MESSAGES +LAST ACTIVE +DESTINATIONS \(pending\/delivered\/dead\)\n/)
  t.match(conversations.stdout, /\ndefault\/c1 +2 +\S+ +flaky 0\/2\/0\n/)
  t.match(conversations.stdout, /\ndefault\/c2 +1 +\S+ +flaky 0\/1\/0/)

  const toExtra = await cli(['replay', '--conversation', 'c1', '--to', 'extra', '--admin-token', ADMIN])
  t.equal(toExtra.code, 0, toExtra.stderr)
  t.match(toExtra.stdout, 'queued 2 message(s) of default/c1 for relay "extra", in order')
  t.ok(await until(() => relay.stdout().includes('extra got m2')))
  t.match(relay.stdout(), /extra got m1\n(.*\n)*extra got m2/, 'in order')
  const ghost = await cli(['replay', '--conversation', 'c1', '--to', 'ghost', '--admin-token', ADMIN])
  t.equal(ghost.code, 1)
  t.match(ghost.stderr, /HTTP 404 NOT_FOUND: no relay named "ghost" is configured/)

  const messages = await cli(['conversations', '--conversation', 'c1', '--admin-token', ADMIN])
  t.equal(messages.code, 0, messages.stderr)
  t.match(
    messages.stdout,
    /^#\d+ \S+ m1 \(ANSWER\) text of m1\n {4}→ flaky: delivered after 1 attempt\(s\) \(channel_not_found\) \[delivery \d+\]\n {4}→ extra: delivered after 1 attempt\(s\) \[delivery \d+\]\n#\d+ \S+ m2 /
  )
  relay.child.kill('SIGTERM')
  t.equal(await relay.exited, 0)
})
