import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import t from 'tap'
import { freePort, startRelay } from './helpers/process.js'

// The image's parts that can run without Docker, here as in scripts/container-smoke.sh (which
// also builds the image's layout, in CI): its ENTRYPOINT and CMD, its health check, the compose file.

const dockerfile = readFileSync('Dockerfile', 'utf8')
const execForm = (instruction: string): string[] => {
  const line = dockerfile.split('\n').find(l => l.startsWith(`${instruction} `))
  return line ? (JSON.parse(line.slice(instruction.length + 1)) as string[]) : []
}

function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; out: string }> {
  return new Promise(done => {
    const child = spawn(args[0] === 'node' ? process.execPath : args[0]!, args.slice(1), {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe']
    })
    let out = ''
    child.stdout.on('data', chunk => {
      out += chunk
    })
    child.stderr.on('data', chunk => {
      out += chunk
    })
    child.on('exit', code => done({ code, out }))
  })
}

t.test('docker run IMAGE starts the relay; docker run IMAGE check-config FILE and --help run those', async t => {
  const entrypoint = execForm('ENTRYPOINT')
  const command = execForm('CMD')
  t.same(entrypoint, ['node', 'dist/src/cli.js'], 'the entrypoint is the CLI, without a subcommand')
  t.same(command, ['start'], 'start is only the default')
  const help = await run([...entrypoint, '--help'])
  t.equal(help.code, 0)
  t.match(help.out, /Commands:\n {2}start/, "the CLI's own help, not start's")
  const checked = await run([...entrypoint, 'check-config', 'container/config.json'], {
    GPTBOTS_API_KEY: 'k-1234567890'
  })
  t.equal(checked.code, 0, checked.out)
  t.match(checked.out, /container\/config\.json is valid/)
})

t.test('the health check asks the port of the config in GPTBOTS_RELAY_CONFIG, not only $PORT', async t => {
  const port = await freePort()
  const dir = t.testdir({
    'mounted.json': JSON.stringify({
      server: { host: '0.0.0.0', port },
      auth: { tokens: ['${GPTBOTS_API_KEY}'] },
      store: { driver: 'sqlite', path: 'relay.db' },
      relays: { console: { type: 'console' } }
    })
  })
  const env = { GPTBOTS_API_KEY: 'k-1234567890', GPTBOTS_RELAY_CONFIG: join(dir, 'mounted.json'), PORT: undefined }
  // No PORT: the relay listens where the file says, and the health check must look there.
  await startRelay(t, ['start'], { cwd: dir, env, port })
  const healthz = await run(['node', resolve('container/healthcheck.mjs')], env)
  t.equal(healthz.code, 0, healthz.out)
  const readyz = await run(['node', resolve('container/healthcheck.mjs'), '/readyz'], env)
  t.equal(readyz.code, 0, readyz.out)
  const elsewhere = await run(['node', resolve('container/healthcheck.mjs')], {
    ...env,
    PORT: String(await freePort())
  })
  t.equal(elsewhere.code, 1, 'PORT still overrides the port, as it does for the relay')
})

t.test('the compose file keeps the database password out of the URL', async t => {
  const compose = readFileSync('docker-compose.example.yml', 'utf8')
  const url = /^\s+DATABASE_URL: (.+)$/m.exec(compose)?.[1]
  t.ok(url, 'DATABASE_URL is set')
  t.notMatch(url!, /PASSWORD|:\/\/[^@/]*:[^@/]*@/, 'no password in it')
  t.match(compose, /^\s+PGPASSWORD: \$\{POSTGRES_PASSWORD:-relay\}$/m, 'PGPASSWORD carries it')
})
