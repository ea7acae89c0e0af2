import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { join } from 'node:path'
import t from 'tap'
import { CLI, freePort } from './helpers/process.js'

interface Outcome {
  code: number | null
  /** stderr without the relay's JSON log lines: what a person reads as the failure. */
  said: string[]
  stderr: string
}

/**
 * Runs `gptbots-relay start` as a user does and waits for it to end. A start that hangs is killed
 * after a generous bound and shows as code null, so the test fails instead of waiting forever.
 */
function start(
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; uid?: number; gid?: number } = {}
): Promise<Outcome> {
  return new Promise(done => {
    const child = spawn(process.execPath, [CLI, 'start', ...args], {
      cwd: options.cwd,
      env: { ...process.env, PORT: '', GPTBOTS_RELAY_CONFIG: '', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      uid: options.uid,
      gid: options.gid
    })
    let stderr = ''
    child.stderr.on('data', chunk => {
      stderr += chunk
    })
    child.stdout.resume()
    const hung = setTimeout(() => child.kill('SIGKILL'), 60_000)
    child.on('exit', code => {
      clearTimeout(hung)
      const said = stderr.split('\n').filter(line => line !== '' && !line.startsWith('{"level"'))
      done({ code, said, stderr })
    })
  })
}

function occupy(port: number, host = '127.0.0.1'): Promise<Server> {
  return new Promise((done, fail) => {
    const server = createServer().on('error', fail)
    server.listen(port, host, () => done(server))
  })
}

const relays = { c: { type: 'console' } }
const auth = { tokens: ['k-123456'] }

t.test('a taken port from PORT: one line naming the port and both ways to choose another, exit 1', async t => {
  const port = await freePort()
  const blocker = await occupy(port)
  t.teardown(() => blocker.close())
  const dir = t.testdir({ 'config.json': JSON.stringify({ server: { host: '127.0.0.1' }, auth, relays }) })
  const result = await start([], { cwd: dir, env: { PORT: String(port) } })
  t.equal(result.code, 1, result.stderr)
  t.equal(result.said.length, 1, result.stderr)
  t.match(
    result.said[0],
    new RegExp(
      `^cannot start: port ${port} \\(chosen by the PORT environment variable\\) is already in use on 127\\.0\\.0\\.1 .*PORT environment variable .*server\\.port in ${join(dir, 'config.json').replace(/[.]/g, '\\.')}$`
    )
  )
})

t.test('a taken port from server.port names server.port and not PORT as the cause', async t => {
  const port = await freePort()
  const blocker = await occupy(port)
  t.teardown(() => blocker.close())
  const dir = t.testdir({ 'relay.json': JSON.stringify({ server: { host: '127.0.0.1', port }, auth, relays }) })
  const result = await start(['--config', join(dir, 'relay.json')], { cwd: dir })
  t.equal(result.code, 1, result.stderr)
  t.same(result.said.length, 1, result.stderr)
  t.match(result.said[0], `cannot start: port ${port} is already in use on 127.0.0.1`)
  t.notMatch(result.said[0], /chosen by/)
})

t.test('the port taken after the check, while the relays start: the same line, and the process ends', async t => {
  const port = await freePort()
  const dir = t.testdir({
    'relay.json': JSON.stringify({
      server: { host: '127.0.0.1', port },
      auth,
      relays: { grab: { type: './grab.mjs' } }
    }),
    // A relay that takes the relay's own port as it is created: the race a user meets when
    // another program starts at the same moment.
    'grab.mjs': `
      import { createServer } from 'node:net'
      export default {
        type: 'grab',
        options: { type: 'object' },
        async create() {
          const server = createServer()
          await new Promise(done => server.listen(${port}, '127.0.0.1', done))
          return { async deliver() { return { status: 'delivered' } }, async close() { server.close() } }
        }
      }`
  })
  const result = await start(['--config', join(dir, 'relay.json')], { cwd: dir })
  t.equal(result.code, 1, result.stderr)
  t.equal(result.said.length, 1, result.stderr)
  t.match(result.said[0], `cannot start: port ${port} is already in use on 127.0.0.1`)
})

t.test('a port the user may not bind: says why and how to choose another', async t => {
  const root = process.getuid?.() === 0
  // As root every port may be bound; the relay runs as nobody, the way a service account would.
  const dir = t.testdir({ 'relay.json': JSON.stringify({ server: { host: '127.0.0.1', port: 80 }, auth, relays }) })
  const result = await start(['--config', join(dir, 'relay.json')], {
    cwd: '/',
    // tap's coverage hooks would write into .tap/ at exit, which nobody may not.
    env: { NODE_OPTIONS: '' },
    ...(root ? { uid: 65534, gid: 65534 } : {})
  })
  t.equal(result.code, 1, result.stderr)
  // Under tap, its coverage hook may add a complaint of its own after ours: it cannot write .tap/ as nobody.
  t.match(
    result.said[0],
    /^cannot start: no permission to listen on port 80 on 127\.0\.0\.1: ports below 1024 need root .* PORT environment variable or server\.port in /
  )
})

t.test('a host that is not this machine, or no host at all', async t => {
  const dir = t.testdir({
    'name.json': JSON.stringify({ server: { host: 'no-such-host.invalid' }, auth, relays }),
    'address.json': JSON.stringify({ server: { host: '192.0.2.1' }, auth, relays })
  })
  const name = await start(['--config', join(dir, 'name.json')], { cwd: dir })
  t.equal(name.code, 1, name.stderr)
  t.same(name.said, [
    'cannot start: server.host "no-such-host.invalid" is not a name this machine can resolve: use 0.0.0.0 (every interface), 127.0.0.1 (this machine only) or one of this machine\'s addresses'
  ])
  const address = await start(['--config', join(dir, 'address.json')], { cwd: dir })
  t.equal(address.code, 1, address.stderr)
  t.match(address.said, [/^cannot start: server\.host "192\.0\.2\.1" is not an address of this machine/])
  t.equal(address.said.length, 1)
})

t.test('a store that cannot open, a relay that cannot load or start, a bad config: one line each, exit 1', async t => {
  const dir = t.testdir({
    'file.txt': 'not a directory',
    'store.json': JSON.stringify({ auth, store: { driver: 'sqlite', path: 'file.txt/relay.db' }, relays }),
    'plugin.json': JSON.stringify({ auth, relays: { mine: { type: './missing-plugin.mjs' } } }),
    'factory.json': JSON.stringify({ auth, relays: { boom: { type: './boom.mjs' } } }),
    'boom.mjs': `export default {
      type: 'boom',
      options: { type: 'object' },
      create() { throw new Error('the boom relay needs a fuse') }
    }`,
    'invalid.json': JSON.stringify({ auth, relays, dispatch: { concurrency: 0 } })
  })
  const port = String(await freePort())
  const store = await start(['--config', join(dir, 'store.json')], { cwd: dir, env: { PORT: port } })
  t.equal(store.code, 1, store.stderr)
  // A relative store.path is read from the config file's folder, so the line names the whole path.
  t.ok(
    store.said[0]?.startsWith(`config error: store.path: cannot open ${join(dir, 'file.txt', 'relay.db')}: `),
    store.said[0] ?? 'no line'
  )
  t.equal(store.said.length, 1, store.stderr)

  const plugin = await start(['--config', join(dir, 'plugin.json')], { cwd: dir, env: { PORT: port } })
  t.equal(plugin.code, 1, plugin.stderr)
  // Like check-config, start names the config file before the field.
  t.ok(
    plugin.said[0]?.startsWith(
      `config error: ${join(dir, 'plugin.json')}: relays.mine.type: cannot load relay plugin "./missing-plugin.mjs": `
    ),
    plugin.said[0] ?? 'no line'
  )
  t.equal(plugin.said.length, 1, plugin.stderr)

  const factory = await start(['--config', join(dir, 'factory.json')], { cwd: dir, env: { PORT: port } })
  t.equal(factory.code, 1, factory.stderr)
  t.same(factory.said, ['config error: relays.boom: could not start: the boom relay needs a fuse'])

  const invalid = await start(['--config', join(dir, 'invalid.json')], { cwd: dir, env: { PORT: port } })
  t.equal(invalid.code, 1, invalid.stderr)
  t.same(invalid.said, [`config error: ${join(dir, 'invalid.json')}: dispatch.concurrency must be at least 1`])
})

t.test('a PostgreSQL store that cannot be reached: one line naming the server, exit 1', async t => {
  const dir = t.testdir({})
  writeFileSync(
    join(dir, 'relay.json'),
    JSON.stringify({
      auth,
      store: { driver: 'postgres', url: `postgres://postgres@127.0.0.1:${await freePort()}/x` },
      relays
    })
  )
  const result = await start(['--config', join(dir, 'relay.json')], {
    cwd: dir,
    env: { PORT: String(await freePort()) }
  })
  t.equal(result.code, 1, result.stderr)
  t.equal(result.said.length, 1, result.stderr)
  t.match(result.said[0], /cannot connect to PostgreSQL at 127\.0\.0\.1:\d+\/x: connection refused/)
})
