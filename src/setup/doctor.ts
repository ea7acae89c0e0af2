import { randomUUID } from 'node:crypto'
import { accessSync, constants, existsSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { dirname } from 'node:path'
import type { LoadedConfig } from '../config/load.js'
import type { Config } from '../config/schema.js'
import { DEFAULT_SOURCE, readSourceKey, sourceApiSettings } from '../gptbots/settings.js'
import type { DoctorCheck, RelayLogger } from '../relays/types.js'

export type { DoctorCheck }

const quiet: RelayLogger = { debug() {}, info() {}, warn() {}, error() {} } as unknown as RelayLogger

/** How long one call of a check may take: a doctor that hangs helps no one. */
const callTimeoutMs = 10_000

async function get(url: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { headers, signal: AbortSignal.timeout(callTimeoutMs) })
}

const cause = (error: unknown) => {
  const e = error as Error & { cause?: Error }
  return e.cause?.message ?? e.message ?? String(error)
}

/** Each relay's own checks, from its plugin; a relay without them is only loaded. */
async function relayChecks(loaded: LoadedConfig, post: boolean): Promise<DoctorCheck[]> {
  const { prepareRelay } = await import('../relays/loader.js')
  const desk = new Set(loaded.config.handoff?.relays ?? [])
  const checks: DoctorCheck[] = []
  for (const [name, entry] of Object.entries(loaded.config.relays)) {
    try {
      const { plugin, options } = await prepareRelay(name, entry, loaded.configDir)
      if (!plugin.diagnose) {
        checks.push({ ok: true, what: `${name}: options valid (the ${entry.type} relay has no further checks)` })
        continue
      }
      checks.push(...(await plugin.diagnose(options as never, { name, post, logger: quiet, desk: desk.has(name) })))
    } catch (error) {
      checks.push({ ok: false, what: `${name}: ${(error as Error).message}` })
    }
  }
  return checks
}

/** Each source's GPTBots API settings (its own or the default source's) and its key, when it can be read. */
function gptbotsKeys(config: Config, env: NodeJS.ProcessEnv, configDir: string) {
  return [DEFAULT_SOURCE, ...Object.keys(config.auth.sources)].map(source => {
    const settings = sourceApiSettings(config, source)
    try {
      return { source, apiUrl: settings.apiUrl.replace(/\/+$/, ''), key: readSourceKey(settings, configDir, env) }
    } catch (error) {
      return { source, apiUrl: settings.apiUrl.replace(/\/+$/, ''), missing: (error as Error).message }
    }
  })
}

/** A cheap read that needs a valid key: one conversation of the list. */
async function gptbotsChecks(config: Config, env: NodeJS.ProcessEnv, configDir: string): Promise<DoctorCheck[]> {
  const checks: DoctorCheck[] = []
  for (const { source, key, apiUrl } of gptbotsKeys(config, env, configDir)) {
    const what = `GPTBots source ${source} (${apiUrl})`
    if (!key) {
      checks.push({
        ok: false,
        what: `${what}: no API key`,
        fix: 'set the agent API key (Agent → Integration → API) as the source token'
      })
      continue
    }
    const now = Date.now()
    const query = new URLSearchParams({
      conversation_type: 'ALL',
      start_time: String(now - 86_400_000),
      end_time: String(now),
      page: '1',
      page_size: '1'
    })
    try {
      const response = await get(`${apiUrl}/v1/bot/conversation/page?${query}`, { authorization: `Bearer ${key}` })
      const body = (await response.json().catch(() => ({}))) as { code?: number; message?: string; list?: unknown }
      if (response.ok && Array.isArray(body.list)) {
        checks.push({ ok: true, what: `${what}: the API key works` })
        continue
      }
      const said = `HTTP ${response.status}${body.code !== undefined ? `, code ${body.code}` : ''}${body.message ? `: ${body.message}` : ''}`
      const refused = response.status === 401 || response.status === 403 || body.code === 40127
      checks.push({
        ok: false,
        what: `${what}: ${refused ? 'GPTBots refused the API key' : 'the API answered'} (${said})`,
        fix: refused
          ? "copy the agent's API key from GPTBots (Agent → Integration → API); an account in another region needs gptbots.apiUrl set to its host (https://api-sg.gptbots.ai, -th, -jp)"
          : "check gptbots.apiUrl: the host of your GPTBots account's region"
      })
    } catch (error) {
      checks.push({
        ok: false,
        what: `${what}: cannot reach the API: ${cause(error)}`,
        fix: 'check gptbots.apiUrl and that this host can reach it'
      })
    }
  }
  return checks
}

/** The URLs to paste into GPTBots and the platforms, built from the public address. */
export function urlsToPaste(config: Config, base: string): string[] {
  const lines = [`GPTBots webhook URL: ${base}/webhook`]
  for (const source of Object.keys(config.auth.sources))
    lines.push(`GPTBots webhook URL of source ${source}: ${base}/webhook/${source}`)
  if (config.handoff) {
    lines.push(`GPTBots human service (webhook mode) URL: ${base}/handoff`)
    for (const name of config.handoff.relays) {
      const type = config.relays[name]?.type
      if (type === 'slack') {
        lines.push(`Slack ${name} events request URL: ${base}/relays/${name}/events`)
        lines.push(`Slack ${name} interactivity request URL: ${base}/relays/${name}/interactivity`)
      }
      if (type === 'discord')
        lines.push(`Discord ${name} Interactions Endpoint URL: ${base}/relays/${name}/interactions`)
    }
  }
  return lines
}

/** server.publicUrl must reach this relay: the same instance answers /healthz there and on the local port. */
async function publicAddressCheck(config: Config): Promise<{ check: DoctorCheck; urls: string[] }> {
  const { publicUrl, host, port } = config.server
  if (!publicUrl)
    return {
      check: {
        ok: false,
        what: 'public address: server.publicUrl is not set, and GPTBots calls the relay from the internet over HTTPS',
        fix: 'start a tunnel (cloudflared tunnel --url http://127.0.0.1:8080) or a reverse proxy, and set server.publicUrl to its https:// address (docs/public-url.md)'
      },
      urls: []
    }
  const base = publicUrl.replace(/\/+$/, '')
  const local = `http://${host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host}:${port}`
  const instanceAt = async (url: string) =>
    ((await (await get(`${url}/healthz`)).json()) as { instance?: string }).instance
  let mine: string | undefined
  let stand: Server | undefined
  try {
    mine = await instanceAt(local)
  } catch {
    // No relay runs here yet: answer in its place for as long as the check takes.
    mine = randomUUID()
    const instance = mine
    stand = createServer((req, res) => {
      res.writeHead(req.url === '/healthz' ? 200 : 404, { 'content-type': 'application/json' })
      res.end(JSON.stringify(req.url === '/healthz' ? { status: 'ok', instance } : {}))
    })
    try {
      await new Promise<void>((done, fail) => stand!.once('error', fail).listen(port, host, done))
    } catch (error) {
      return {
        check: {
          ok: false,
          what: `public address: cannot check ${base}: nothing answers /healthz at ${local}, and ${host}:${port} cannot be listened on (${cause(error)})`,
          fix: 'start the relay (npm start) and run doctor again in another terminal'
        },
        urls: []
      }
    }
  }
  try {
    return await compareInstances(config, base, local, mine, instanceAt)
  } finally {
    if (stand) {
      stand.closeAllConnections()
      await new Promise(done => stand!.close(done))
    }
  }
}

async function compareInstances(
  config: Config,
  base: string,
  local: string,
  mine: string | undefined,
  instanceAt: (url: string) => Promise<string | undefined>
): Promise<{ check: DoctorCheck; urls: string[] }> {
  let theirs: string | undefined
  try {
    theirs = await instanceAt(base)
  } catch (error) {
    return {
      check: {
        ok: false,
        what: `public address: ${base}/healthz cannot be reached: ${cause(error)}`,
        fix: 'check that the tunnel or reverse proxy is running and points at this relay, and that server.publicUrl is its current address (a quick tunnel changes at each start)'
      },
      urls: []
    }
  }
  if (!mine || theirs !== mine)
    return {
      check: {
        ok: false,
        what: `public address: ${base}/healthz is answered by another process than the relay at ${local}`,
        fix: 'point the tunnel or reverse proxy at this relay (its host and port), or fix server.publicUrl'
      },
      urls: []
    }
  return { check: { ok: true, what: `public address: ${base} reaches this relay` }, urls: urlsToPaste(config, base) }
}

function nearestExisting(path: string): string {
  let dir = path
  while (!existsSync(dir) && dirname(dir) !== dir) dir = dirname(dir)
  return dir
}

async function storeCheck(config: Config): Promise<DoctorCheck> {
  if (config.store.driver === 'sqlite') {
    const file = config.store.path
    if (file === ':memory:') return { ok: true, what: 'store: in memory (nothing survives a restart)' }
    if (!existsSync(file)) {
      const dir = nearestExisting(dirname(file))
      try {
        accessSync(dir, constants.W_OK)
        return { ok: true, what: `store: SQLite ${file} does not exist yet; start creates it (${dir} is writable)` }
      } catch {
        return {
          ok: false,
          what: `store: cannot create ${file}: ${dir} is not writable`,
          fix: 'make that directory writable by the relay, or set store.path elsewhere'
        }
      }
    }
    try {
      accessSync(file, constants.R_OK | constants.W_OK)
    } catch {
      return {
        ok: false,
        what: `store: SQLite ${file} is not writable by this user`,
        fix: 'run as the user that owns it, or fix its permissions'
      }
    }
    const { default: Database } = await import('better-sqlite3')
    const { sqliteSchemaVersion } = await import('../store/sqlite-schema.js')
    let db: InstanceType<typeof Database> | undefined
    try {
      db = new Database(file, { readonly: true, fileMustExist: true, timeout: 5000 })
      const table = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'")
        .get()
      const version = table
        ? (db.prepare('SELECT COALESCE(MAX(version), 0) FROM schema_migrations').pluck().get() as number)
        : 0
      return versionCheck(`SQLite ${file}`, version, sqliteSchemaVersion)
    } catch (error) {
      return { ok: false, what: `store: cannot read SQLite ${file}: ${(error as Error).message}` }
    } finally {
      db?.close()
    }
  }
  const { default: pg } = await import('pg')
  const { schemaVersion } = await import('../store/postgres-schema.js')
  const schema = config.store.schema
  const client = new pg.Client({ connectionString: config.store.url, connectionTimeoutMillis: callTimeoutMs })
  try {
    await client.connect()
  } catch (error) {
    return {
      ok: false,
      what: `store: cannot connect to PostgreSQL: ${cause(error)}`,
      fix: 'check store.url (host, port, user, password: PGPASSWORD) and that the server is up'
    }
  }
  try {
    const { rows } = await client
      .query<{ standby: boolean; create: boolean; exists: boolean }>(
        `SELECT pg_is_in_recovery() AS standby,
              has_database_privilege(current_database(), 'CREATE') OR COALESCE(has_schema_privilege($1, 'CREATE'), false) AS create,
              to_regclass($2) IS NOT NULL AS exists`,
        [schema, `${schema}.schema_migrations`]
      )
      .catch(async () =>
        client.query<{ standby: boolean; create: boolean; exists: boolean }>(
          `SELECT pg_is_in_recovery() AS standby, has_database_privilege(current_database(), 'CREATE') AS create, to_regclass($1) IS NOT NULL AS exists`,
          [`${schema}.schema_migrations`]
        )
      )
    const row = rows[0]!
    if (row.standby)
      return { ok: false, what: 'store: PostgreSQL is a read-only standby', fix: 'point store.url at the primary' }
    if (!row.exists && !row.create)
      return {
        ok: false,
        what: `store: PostgreSQL user may not create schema "${schema}"`,
        fix: `GRANT CREATE ON DATABASE to the relay's user, or create the schema for it`
      }
    const version = row.exists
      ? (
          await client.query<{ v: number }>(
            `SELECT COALESCE(MAX(version), 0)::int AS v FROM "${schema}".schema_migrations`
          )
        ).rows[0]!.v
      : 0
    return versionCheck(`PostgreSQL schema "${schema}"`, version, schemaVersion)
  } catch (error) {
    return { ok: false, what: `store: PostgreSQL: ${cause(error)}` }
  } finally {
    await client.end().catch(() => {})
  }
}

function versionCheck(what: string, version: number, newest: number): DoctorCheck {
  if (version === newest)
    return { ok: true, what: `store: ${what} is reachable, writable, at schema version ${version} (up to date)` }
  if (version === 0) return { ok: true, what: `store: ${what} is reachable and writable; start creates its tables` }
  if (version > newest)
    return {
      ok: false,
      what: `store: ${what} is at schema version ${version}, newer than this relay (${newest})`,
      fix: 'run a newer gptbots-relay'
    }
  return {
    ok: false,
    what: `store: ${what} is at schema version ${version}, behind this relay's ${newest}`,
    fix: 'run gptbots-relay migrate --config FILE (start does it too)'
  }
}

/** Every check, in the order a set-up goes: the platforms, GPTBots, the public address, the store. */
export async function doctor(
  loaded: LoadedConfig,
  options: { post: boolean; env: NodeJS.ProcessEnv }
): Promise<{ checks: DoctorCheck[]; urls: string[] }> {
  const checks = await relayChecks(loaded, options.post)
  checks.push(...(await gptbotsChecks(loaded.config, options.env, loaded.configDir)))
  const address = await publicAddressCheck(loaded.config)
  checks.push(address.check)
  checks.push(await storeCheck(loaded.config))
  return { checks, urls: address.urls }
}

/** One ✓ or ✗ line per check, the fix under each ✗. */
export function report(checks: DoctorCheck[]): string {
  return checks.map(c => (c.ok ? `✓ ${c.what}` : `✗ ${c.what}${c.fix ? `\n    fix: ${c.fix}` : ''}`)).join('\n')
}
