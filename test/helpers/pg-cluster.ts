import { execFile } from 'node:child_process'
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { Test } from 'tap'
import { freePort } from './process.js'

const run = promisify(execFile)

/**
 * A PostgreSQL server of the test's own, on a spare port, that it may stop, crash and start at
 * will: the shared server at 5432 must never be restarted.
 */
export interface PrivateCluster {
  url: string
  port: number
  /** `fast` ends sessions with 57P01; `immediate` kills them, as a crash would. */
  stop(mode: 'fast' | 'immediate'): Promise<void>
  start(): Promise<void>
  /** The server's own log, for a failure message. */
  log(): Promise<string>
}

/** The newest PostgreSQL installed the Debian way (/usr/lib/postgresql/N/bin), or undefined. */
function binaries(): string | undefined {
  const root = '/usr/lib/postgresql'
  if (!existsSync(root)) return undefined
  const versions = readdirSync(root)
    .filter(v => existsSync(join(root, v, 'bin', 'pg_ctl')))
    .sort((a, b) => Number(b) - Number(a))
  return versions[0] && join(root, versions[0], 'bin')
}

/**
 * Creates and starts a cluster, removed when `t` ends. Without the binaries the tests of `t`
 * are skipped, saying why; but when TEST_DATABASE_URL is set (as CI does) they fail instead:
 * a CI that meant to test PostgreSQL must not pass by skipping.
 */
export async function privateCluster(t: Test): Promise<PrivateCluster | undefined> {
  const bin = binaries()
  const refuse = (reason: string) => {
    if (process.env.TEST_DATABASE_URL) t.fail(`cannot create a private PostgreSQL cluster: ${reason}`)
    else t.plan(0, `no private PostgreSQL cluster (${reason}): skipped`)
    return undefined
  }
  if (!bin) return refuse('no PostgreSQL server binaries under /usr/lib/postgresql')
  // initdb refuses to run as root: as root, run the server as the postgres user.
  const asRoot = process.getuid?.() === 0
  let uid: number | undefined
  let gid: number | undefined
  if (asRoot) {
    try {
      const { stdout } = await run('id', ['-u', 'postgres'])
      uid = Number(stdout.trim())
      gid = Number((await run('id', ['-g', 'postgres'])).stdout.trim())
    } catch {
      return refuse('running as root and there is no postgres user to run the server as')
    }
  }
  const exec = (command: string, args: string[]) =>
    run(join(bin, command), args, { uid, gid, cwd: '/', env: { ...process.env, LC_ALL: 'C' } })

  const dir = mkdtempSync(join(tmpdir(), 'relay-pg-'))
  const data = join(dir, 'data')
  if (uid !== undefined) chownSync(dir, uid, gid!)
  const port = await freePort()
  const logFile = join(dir, 'server.log')
  // Nothing here needs to survive a power loss; the tests need the server fast on two shared cores.
  const options = [
    `-p ${port}`,
    '-c listen_addresses=127.0.0.1',
    `-c unix_socket_directories=${dir}`,
    '-c fsync=off',
    '-c full_page_writes=off',
    '-c shared_buffers=16MB',
    '-c max_connections=200'
  ].join(' ')
  const pgCtl = (...args: string[]) => exec('pg_ctl', ['-D', data, '-l', logFile, '-o', options, ...args])
  let running = false
  t.teardown(async () => {
    if (running) await pgCtl('stop', '-m', 'immediate', '-w').catch(() => {})
    rmSync(dir, { recursive: true, force: true })
  })
  try {
    await exec('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync'])
    await pgCtl('start', '-w', '-t', '60')
    running = true
  } catch (error) {
    return refuse((error as Error).message)
  }
  const cluster: PrivateCluster = {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    async stop(mode) {
      await pgCtl('stop', '-m', mode, '-w', '-t', '60')
      running = false
    },
    async start() {
      await pgCtl('start', '-w', '-t', '60')
      running = true
    },
    async log() {
      const { readFile } = await import('node:fs/promises')
      return readFile(logFile, 'utf8').catch(() => '')
    }
  }
  return cluster
}
