import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { startRelay } from '../helpers/process.js'

const doc = readFileSync('docs/running.md', 'utf8')
const unit = /```ini\n([\s\S]*?)\n```/.exec(doc)?.[1] ?? ''
const setting = (name: string) => new RegExp(`^${name}=(.*)$`, 'm').exec(unit)?.[1]

// npm start does not pass a supervisor's signals on to node: the unit must run node itself, and
// that command, run from the unit's working directory, must start and stop as systemd drives it.
t.test("docs/running.md's systemd unit runs node directly, and its command stops cleanly on SIGTERM", async t => {
  const exec = setting('ExecStart')
  if (!t.ok(exec, 'the unit has an ExecStart')) return
  const [program, script, command, ...rest] = exec!.split(/\s+/)
  t.match(program, /\/node$/, 'node, not npm')
  t.equal(script, 'dist/src/cli.js', 'the built CLI, relative to WorkingDirectory')
  t.equal(command, 'start')
  t.same(rest.slice(0, 1), ['--config'])
  t.equal(setting('ExecReload'), '/bin/kill -HUP $MAINPID', 'reload is SIGHUP, which re-reads the config')
  t.ok(Number.parseInt(setting('TimeoutStopSec') ?? '0', 10) > 10, 'systemd waits longer than shutdownTimeoutMs')

  // The same command: this node, this checkout's dist/src/cli.js, a config of the test's own.
  const dir = t.testdir({
    'config.json': JSON.stringify({
      auth: { tokens: ['${GPTBOTS_API_KEY}'] },
      store: { driver: 'sqlite', path: 'relay.db' },
      relays: { console: { type: 'console' } }
    })
  })
  const relay = await startRelay(t, [command!, '--config', join(dir, 'config.json')], {
    cwd: dir,
    env: { GPTBOTS_API_KEY: 'k-1234567890' }
  })
  relay.child.kill('SIGTERM')
  t.equal(await relay.exited, 0, 'exits 0 on SIGTERM')
  t.match(relay.stderr(), /shutting down/)
})
