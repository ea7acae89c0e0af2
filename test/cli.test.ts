import { existsSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import t from 'tap'
import { runCli, startRelay, until } from './helpers/process.js'

const seedCurl = JSON.stringify({
  message_id: '65a4ccfC7ce58e728d5897e0',
  message_type: 'ANSWER',
  text: 'Hi, is there anything I can help you?',
  flow_output: [{ content: '你好', branch: '1', from_component_name: 'User Input' }],
  create_time: 1679587005,
  conversation_id: '657303a8a764d47094874bbe'
})

t.test('--help for the command and each subcommand', async t => {
  const main = await runCli(['--help'])
  t.equal(main.code, 0)
  t.match(main.stdout, /Commands:\n {2}start .*\n {2}check-config \[FILE\].*\n {2}send-test/s)
  for (const command of ['start', 'check-config', 'send-test', 'migrate']) {
    const help = await runCli([command, '--help'])
    t.equal(help.code, 0, command)
    t.match(help.stdout, new RegExp(`^Usage: gptbots-relay ${command}`), command)
  }
  const unknown = await runCli(['launch'])
  t.equal(unknown.code, 2)
  t.match(unknown.stderr, /unknown command "launch"/)
})

t.test('check-config: 0 and a summary for a good file, 1 and every problem for a bad one', async t => {
  const dir = t.testdir({
    'good.json': JSON.stringify({ auth: { tokens: ['${KEY}'] }, relays: { console: { type: 'console' } } }),
    'bad.json': JSON.stringify({
      auth: { tokens: ['k'] },
      relays: { console: { type: 'console', stream: 'stdin' } },
      routes: [{ to: ['slack'] }]
    })
  })
  const good = await runCli(['check-config', join(dir, 'good.json')], { env: { KEY: 'secret' } })
  t.equal(good.code, 0, good.stderr)
  t.match(good.stdout, /good\.json is valid: 1 relay\(s\), no routes \(every relay gets every message\), store sqlite/)
  const missingEnv = await runCli(['check-config', join(dir, 'good.json')], { env: { KEY: '' } })
  t.equal(missingEnv.code, 1)
  t.match(missingEnv.stderr, /auth\.tokens\.0: environment variable KEY is not set/)
  const bad = await runCli(['check-config', join(dir, 'bad.json')])
  t.equal(bad.code, 1)
  t.match(bad.stderr, /routes\.0\.to\.0 names relay "slack"/)
  const badOptions = await runCli(['check-config', join(dir, 'bad.json')].concat([]), {})
  t.notMatch(badOptions.stderr, /at .*\.js:\d+/, 'no stack trace')
})

t.test('npm start without a config: console relay, open intake on 127.0.0.1, a warning, the seed relayed', async t => {
  const dir = t.testdir({})
  const relay = await startRelay(t, ['start'], { cwd: dir })
  t.match(relay.stderr(), /no config file: running the default \(console relay, open intake on 127\.0\.0\.1\)/)
  t.match(relay.stderr(), /auth\.allowUnauthenticated is true/)
  const res = await fetch(`${relay.url}/webhook`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer your_apikey' },
    body: seedCurl
  })
  t.same(await res.json(), { code: 200, msg: 'success' })
  t.ok(await until(() => relay.stdout().includes('你好')), 'the console relay printed it')
  t.match(
    relay.stdout(),
    /default\/657303a8a764d47094874bbe · bot · 2023-03-23T15:56:45\.000Z · 65a4ccfC7ce58e728d5897e0\n {2}Hi, is there anything I can help you\?\n {2}↳ \[User Input · branch 1\] 你好/
  )
  relay.child.kill('SIGTERM')
  t.equal(await relay.exited, 0, 'SIGTERM exits cleanly')
  t.match(relay.stderr(), /shutting down/)
})

t.test('start --config with tokens; send-test posts the seed with a token', async t => {
  const dir = t.testdir({
    'relay.json': JSON.stringify({
      auth: { tokens: ['${KEY}'] },
      store: { driver: 'sqlite', path: 'db/relay.db' },
      relays: { out: { type: 'console' } }
    })
  })
  const relay = await startRelay(t, ['start', '--config', join(dir, 'relay.json')], { cwd: dir, env: { KEY: 'k-123' } })
  const refused = await runCli(['send-test', '--url', `${relay.url}/webhook`, '--token', 'wrong'])
  t.equal(refused.code, 1)
  t.match(refused.stdout, /HTTP 401 \{"code":401,"msg":"wrong credentials for this webhook"\}/)
  const sent = await runCli(['send-test', '--url', `${relay.url}/webhook`, '--token', 'k-123'])
  t.equal(sent.code, 0, sent.stderr)
  t.match(sent.stdout, /HTTP 200 \{"code":200,"msg":"success"\}/)
  t.ok(await until(() => relay.stdout().includes('Hi, is there anything I can help you?')))
  relay.child.kill('SIGINT')
  t.equal(await relay.exited, 0)
})

t.test('a config without tokens refuses to start, saying what to do', async t => {
  const dir = t.testdir({ 'open.json': JSON.stringify({ relays: { c: { type: 'console' } } }) })
  const result = await runCli(['start', '--config', join(dir, 'open.json')])
  t.equal(result.code, 1)
  t.match(result.stderr, /config error: .*open\.json: auth\.tokens is empty: .*allowUnauthenticated/s)
})

t.test('a custom relay in TypeScript loads by path into the built relay', async t => {
  const dir = t.testdir({
    'relay.json': JSON.stringify({
      auth: { tokens: ['k'] },
      relays: { mine: { type: './my-relay.ts', prefix: '>>' } }
    }),
    'my-relay.ts': `
      import Type from 'typebox'
      export default {
        type: 'mine',
        options: Type.Object({ prefix: Type.String() }),
        create(options: { prefix: string }) {
          return { async deliver(message: { text?: string }) { process.stdout.write(options.prefix + ' ' + message.text + '\\n'); return { status: 'delivered' as const } } }
        }
      }`
  })
  // The plugin imports typebox as any plugin would; let it resolve from this project.
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}')
  const relay = await startRelay(t, ['start', '--config', join(dir, 'relay.json')], {
    cwd: dir,
    env: { NODE_PATH: resolve('node_modules') }
  })
  await fetch(`${relay.url}/webhook`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer k' },
    body: seedCurl
  })
  t.ok(await until(() => relay.stdout().includes('>> Hi, is there anything I can help you?')), relay.stderr())
})

t.test('migrate creates the store and exits', async t => {
  const dir = t.testdir({
    'relay.json': JSON.stringify({
      auth: { tokens: ['k'] },
      store: { driver: 'sqlite', path: 'db/relay.db' },
      relays: { c: { type: 'console' } }
    })
  })
  const result = await runCli(['migrate', '--config', join(dir, 'relay.json')], { cwd: dir })
  t.equal(result.code, 0, result.stderr)
  t.match(result.stdout, /store sqlite is up to date/)
  t.ok(existsSync(join(dir, 'db/relay.db')))
})
