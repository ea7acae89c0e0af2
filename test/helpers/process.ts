import { spawn, type ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'
import { resolve } from 'node:path'
import type { Test } from 'tap'

/** The built command, as `npm start` and the `gptbots-relay` bin run it. */
export const CLI = resolve('dist/src/cli.js')

export function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer()
      .listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number }
        server.close(() => done(port))
      })
      .on('error', fail)
  })
}

export interface RelayProcess {
  child: ChildProcess
  port: number
  url: string
  stdout(): string
  stderr(): string
  exited: Promise<number | null>
}

/** Starts `gptbots-relay` as a real process and waits until /healthz answers. */
export async function startRelay(
  t: Test,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; port?: number; healthyWithinMs?: number } = {}
): Promise<RelayProcess> {
  const port = options.port ?? (await freePort())
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: options.cwd,
    env: { ...process.env, PORT: String(port), ...options.env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let out = ''
  let err = ''
  child.stdout!.on('data', chunk => {
    out += chunk
  })
  child.stderr!.on('data', chunk => {
    err += chunk
  })
  const exited = new Promise<number | null>(done => child.on('exit', code => done(code)))
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  const url = `http://127.0.0.1:${port}`
  // Generous: on CI's two shared cores, loading the Slack and Discord SDKs alone has taken 15 s.
  const deadline = Date.now() + (options.healthyWithinMs ?? 40_000)
  for (;;) {
    if (child.exitCode !== null) throw new Error(`relay exited with ${child.exitCode}:\n${err}`)
    try {
      if ((await fetch(`${url}/healthz`)).ok) break
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) throw new Error(`relay did not become healthy:\n${err}`)
    await new Promise(r => setTimeout(r, 50))
  }
  return { child, port, url, stdout: () => out, stderr: () => err, exited }
}

/** Runs the command to completion. */
export function runCli(
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise(done => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe']
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', c => {
      stdout += c
    })
    child.stderr.on('data', c => {
      stderr += c
    })
    child.on('exit', code => done({ code, stdout, stderr }))
  })
}

export async function until(check: () => boolean | Promise<boolean>, timeoutMs = 10000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await check()) return true
    await new Promise(r => setTimeout(r, 25))
  }
  return check()
}
