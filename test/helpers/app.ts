import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { pino } from 'pino'
import type { Test } from 'tap'
import { buildApp, type BuildOptions } from '../../src/app.js'
import { resolveConfig } from '../../src/config/load.js'
import type { Relay } from '../../src/relays/types.js'
import { seedExample } from '../../src/intake/seed.js'

export const TOKEN = 'test-token-0123456789'

/** The seed example from GPTBots' V1 page (src/intake/seed.ts, the one copy), with overridable fields. */
export function seed(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...seedExample('65a4ccfC7ce58e728d5897e0'), ...overrides }
}

export interface TestAppOptions extends Omit<BuildOptions, 'loaded'> {
  config?: Record<string, unknown>
  relays?: Map<string, Relay>
  /** Reuse a database file, to simulate a restart. */
  dbPath?: string
}

/** Builds the real app on a SQLite file in the test's own directory, with silent logs. */
export async function testApp(t: Test, options: TestAppOptions = {}): Promise<FastifyInstance & { dbPath: string }> {
  const dbPath = options.dbPath ?? join(t.testdir(), 'relay.db')
  const relays = options.relays
  const relayEntries = relays
    ? Object.fromEntries([...relays.keys()].map(name => [name, { type: 'console' }]))
    : { console: { type: 'console' } }
  const loaded = resolveConfig(
    {
      auth: { tokens: [TOKEN] },
      store: { driver: 'sqlite', path: dbPath },
      ...options.config,
      relays: (options.config?.relays as Record<string, unknown> | undefined) ?? relayEntries
    },
    { configDir: process.cwd(), env: {} }
  )
  const app = await buildApp({
    logger: pino({ level: 'silent' }),
    dispatch: 'manual',
    ...options,
    loaded,
    relays
  })
  t.teardown(() => app.close())
  return Object.assign(app, { dbPath })
}

export function post(app: FastifyInstance, body: unknown, headers: Record<string, string> = {}, url = '/webhook') {
  return app.inject({
    method: 'POST',
    url,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}`, ...headers },
    payload: typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body)
  })
}
