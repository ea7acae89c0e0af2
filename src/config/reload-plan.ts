import { isDeepStrictEqual } from 'node:util'
import type { Config } from './schema.js'

/** What changed in a reload that was applied. */
export interface ReloadChanges {
  relays: {
    added: string[]
    replaced: string[]
    /** Configured relays that are no longer in the file (built-in `@` relays are never removed). */
    removed: string[]
    kept: string[]
  }
  routes: boolean
  auth: boolean
  dispatch: boolean
  logLevel: boolean
  admin: boolean
  /** Settings that differ from the running ones but only take effect at the next start. */
  atNextStart: string[]
}

/** What a reload came to, as the admin API answers it. */
export interface ReloadResult {
  ok: boolean
  message: string
  changed?: ReloadChanges
}

/** What a reload would change, worked out from the running config and the new one alone. */
export type ReloadPlan =
  | {
      ok: false
      /** Settings that need a restart; the reload is refused and nothing changes. */
      needsRestart: string[]
    }
  | ({
      ok: true
      relays: ReloadChanges['relays'] & {
        /** Relays to create: new names, and existing names whose entry (or config folder) changed. */
        create: Record<string, { type: string }>
      }
    } & Omit<ReloadChanges, 'relays'>)

export interface PlanInput {
  from: Config
  to: Config
  /** Names of the relays running now, built-in `@` relays included. */
  running: Iterable<string>
  /** Whether the config file's folder changed (relative paths in relay options then mean something else). */
  configDirChanged: boolean
}

/** Settings that identify what this process is bound to: a change needs a restart, so the reload is refused. */
function needsRestart(from: Config, to: Config): string[] {
  const differ: string[] = []
  if (!isDeepStrictEqual(from.store, to.store)) differ.push('store')
  for (const key of ['host', 'port', 'bodyLimit', 'headersTimeoutMs', 'requestTimeoutMs'] as const) {
    if (from.server[key] !== to.server[key]) differ.push(`server.${key}`)
  }
  return differ
}

/** Settings read once at start by parts that are not rebuilt on reload: applied at the next start, said in a warning. */
function atNextStart(from: Config, to: Config): string[] {
  const differ: string[] = []
  if (from.server.shutdownTimeoutMs !== to.server.shutdownTimeoutMs) differ.push('server.shutdownTimeoutMs')
  if (from.log.format !== to.log.format) differ.push('log.format')
  for (const key of ['intake', 'retention', 'metrics'] as const) {
    if (!isDeepStrictEqual(from[key], to[key])) differ.push(key)
  }
  return differ
}

/** The pure half of a reload: compares two configs and says what to do, without touching anything. */
export function planReload({ from, to, running, configDirChanged }: PlanInput): ReloadPlan {
  const restart = needsRestart(from, to)
  if (restart.length > 0) return { ok: false, needsRestart: restart }

  const runningNames = new Set(running)
  const kept: string[] = []
  const create: Record<string, { type: string }> = {}
  for (const [name, entry] of Object.entries(to.relays)) {
    const unchanged = runningNames.has(name) && isDeepStrictEqual(from.relays[name], entry) && !configDirChanged
    if (unchanged) kept.push(name)
    else create[name] = entry
  }
  return {
    ok: true,
    relays: {
      create,
      added: Object.keys(create).filter(name => !runningNames.has(name)),
      replaced: Object.keys(create).filter(name => runningNames.has(name)),
      // Built-in relays (`@gptbots`) are the app's, not the config's: a reload keeps them.
      removed: [...runningNames].filter(name => !(name in to.relays) && !name.startsWith('@')),
      kept
    },
    routes: !isDeepStrictEqual(from.routes, to.routes),
    auth: !isDeepStrictEqual(from.auth, to.auth),
    dispatch: !isDeepStrictEqual(from.dispatch, to.dispatch),
    logLevel: from.log.level !== to.log.level,
    admin: !isDeepStrictEqual(from.admin, to.admin),
    atNextStart: atNextStart(from, to)
  }
}
