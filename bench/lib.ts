import { spawn, type ChildProcess } from 'node:child_process'
import { closeSync, mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { freePort } from '../test/helpers/process.js'

export { freePort }
/** The build to run: dist/ by default; BENCH_DIST points at another (e.g. a private build while dist/ is being rebuilt). */
export const DIST = resolve(process.env.BENCH_DIST ?? 'dist')
export const CLI = join(DIST, 'src/cli.js')
/** Extra node flags for the relay, e.g. BENCH_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' to profile it. */
const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(a => a !== '')
export const TOKEN = 'bench-token'
export const AUTH = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }

export function tempDir(tag: string): string {
  return mkdtempSync(join(tmpdir(), `gptbots-relay-bench-${tag}-`))
}

export interface Running {
  child: ChildProcess
  url: string
  port: number
  /** ms from spawn to the first 200 from /healthz */
  startMs: number
  stop(): Promise<void>
}

/** Writes config.json into dir and starts the built relay (`cli`, this DIST's by default) there, waiting for /healthz. */
export async function startRelay(dir: string, config: object, cli = CLI): Promise<Running> {
  const file = join(dir, 'config.json')
  writeFileSync(file, JSON.stringify(config, null, 2))
  const port = await freePort()
  const started = performance.now()
  // Logs (pino JSON on stderr) go to a file, not through a pipe that this process, which also
  // runs autocannon, would have to read: the floor has no such cost.
  const logFile = join(dir, 'relay.log')
  const log = openSync(logFile, 'a')
  const child = spawn(process.execPath, [...nodeArgs, cli, 'start', '--config', file], {
    cwd: dir,
    env: { ...process.env, PORT: String(port) },
    stdio: ['ignore', 'ignore', log]
  })
  closeSync(log)
  const tail = () => readFileSync(logFile, 'utf8').slice(-4000)
  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 30000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`relay exited with ${child.exitCode}:\n${tail()}`)
    try {
      if ((await fetch(`${url}/healthz`)).ok) break
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline) throw new Error(`relay not healthy in 30 s:\n${tail()}`)
    await sleep(5)
  }
  const startMs = performance.now() - started
  return { child, url, port, startMs, stop: () => stopChild(child) }
}

/** Starts the bare-Fastify floor as its own process, like the relay. */
export async function startFloor(): Promise<{ url: string; stop(): Promise<void> }> {
  const port = await freePort()
  const child = spawn(process.execPath, ['--import', 'tsx', resolve('bench/floor.ts')], {
    env: { ...process.env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'inherit']
  })
  await new Promise<void>((done, fail) => {
    child.stdout!.on('data', chunk => {
      if (String(chunk).includes('ready')) done()
    })
    child.on('exit', code => fail(new Error(`floor exited with ${code}`)))
  })
  return { url: `http://127.0.0.1:${port}`, stop: () => stopChild(child) }
}

export function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise(done => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 15000)
    child.once('exit', () => {
      clearTimeout(timer)
      done()
    })
    child.kill(signal)
  })
}

/** Resident memory of a process in MB, from /proc/<pid>/status VmRSS. */
export function rssMb(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return match ? Number(match[1]) / 1024 : NaN
}

/**
 * CPU time (user + system) a process has used so far, in ms, from /proc/<pid>/stat. Unlike
 * throughput, CPU per request hardly depends on what else the machine runs, so it compares two
 * builds on a busy machine (10 ms clock ticks: use it over thousands of requests).
 */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // Fields after the command name, which is in parentheses and may hold spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) * 10
}

export function sleep(ms: number): Promise<void> {
  return new Promise(r => setTimeout(r, ms))
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!
}

export function median(values: number[]): number {
  return percentile(values, 50)
}

/** GPTBots' V1 seed example (src/intake/seed.ts), with the message id also in the text so a fake can match it. */
export function seedBody(messageId: string, conversationId = '657303a8a764d47094874bbe'): string {
  return JSON.stringify({
    message_id: messageId,
    message_type: 'ANSWER',
    text: `Hi, is there anything I can help you? [${messageId}]`,
    flow_output: [{ content: '你好', branch: '1', from_component_name: 'User Input' }],
    create_time: 1679587005,
    conversation_id: conversationId
  })
}

export function baseConfig(store: object, relays: object, extra: object = {}): object {
  return {
    server: { host: '127.0.0.1' },
    auth: { tokens: [TOKEN] },
    store,
    relays,
    log: { level: 'info' },
    // The bench is one source sending far more than a real GPTBots bot: the per-source limit would
    // answer most of it 429 and measure the limiter, not the relay.
    intake: { rateLimit: { max: 0 } },
    ...extra
  }
}

export const f = (n: number, digits = 1): string => (Number.isFinite(n) ? n.toFixed(digits) : String(n))
