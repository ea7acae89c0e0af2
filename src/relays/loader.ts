import { type Clock, systemClock } from '../clock.js'
import { existsSync, statSync } from 'node:fs'
import { createRequire } from 'node:module'
import { extname, join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import Value from 'typebox/value'
import { coerceSubstitutions, isAbout, substitutionsOf } from '../config/substitute.js'
import { ConfigError } from '../errors.js'
import { nearest } from '../validation/suggest.js'
import { checker, dotPath } from '../validation/validate.js'
import type { Relay, RelayInit, RelayLogger, RelayPlugin } from './types.js'

/** Relays that ship with gptbots-relay, by their `type` name. */
export const builtInRelays = ['console', 'slack', 'discord'] as const

const isPath = (type: string) => type.startsWith('.') || type.startsWith('/') || /^[A-Za-z]:[\\/]/.test(type)

/** A directory plugin's entry: index.js, or the TypeScript source when it has not been built. */
function entryOf(path: string): string {
  if (existsSync(path) && statSync(path).isFile()) return path
  for (const candidate of [
    path + '.js',
    path + '.mjs',
    path + '.ts',
    join(path, 'index.js'),
    join(path, 'index.mjs'),
    join(path, 'index.ts')
  ]) {
    if (existsSync(candidate)) return candidate
  }
  throw new Error(`no plugin found at ${path} (looked for a file, ${path}.js/.ts, and index.js/index.ts inside it)`)
}

async function importFile(file: string): Promise<unknown> {
  if (['.ts', '.mts', '.cts'].includes(extname(file))) {
    // A user's relay may be plain TypeScript; tsx compiles it on import.
    const { tsImport } = await import('tsx/esm/api')
    return tsImport(pathToFileURL(file).href, import.meta.url)
  }
  return import(pathToFileURL(file).href)
}

async function importPlugin(type: string, configDir: string): Promise<unknown> {
  if ((builtInRelays as readonly string[]).includes(type)) {
    return import(new URL(`../../plugins/${type}/index.js`, import.meta.url).href)
  }
  if (isPath(type)) return importFile(entryOf(resolve(configDir, type)))
  // An npm package, found from the config's directory first, then from the relay's own.
  let resolved: string | undefined
  try {
    resolved = createRequire(join(configDir, 'package.json')).resolve(type)
  } catch {
    /* try our own resolution */
  }
  return resolved ? importFile(resolved) : import(type)
}

function asPlugin(module: unknown): RelayPlugin | undefined {
  const looksLike = (m: unknown): m is RelayPlugin =>
    m !== null &&
    typeof m === 'object' &&
    typeof (m as RelayPlugin).type === 'string' &&
    typeof (m as RelayPlugin).create === 'function' &&
    typeof (m as RelayPlugin).options === 'object'
  const m = module as { default?: unknown }
  if (looksLike(m.default)) return m.default
  if (looksLike(m)) return m
  // CommonJS modules imported from ESM nest their exports one level deeper.
  const nested = (m.default as { default?: unknown } | undefined)?.default
  return looksLike(nested) ? nested : undefined
}

export interface PreparedRelay {
  name: string
  type: string
  plugin: RelayPlugin
  options: unknown
}

/** Whether importing `type` failed because no package of that name is installed (not because of its own imports). */
function isMissingPackage(error: unknown, type: string): boolean {
  const { code, message } = error as { code?: string; message?: string }
  // Loaders in front of Node's (tsx in development) may drop the code but keep Node's wording.
  const notFound =
    code === 'ERR_MODULE_NOT_FOUND' ||
    code === 'MODULE_NOT_FOUND' ||
    /Cannot find (package|module) '/.test(message ?? '')
  return !isPath(type) && notFound && (message?.includes(`'${type}'`) ?? false)
}

/** A `type` that is neither built in, nor a path, nor an installed package: most often a typo. */
function unknownType(type: string): string {
  const meant = nearest(type, builtInRelays)
  const hint = meant === undefined ? '' : `: did you mean "${meant}"?`
  return `"${type}" is not a relay type: use a built-in type (${builtInRelays.join(', ')}), a path to a plugin (such as ./plugins/http-forwarder), or the name of an installed npm package${hint}`
}

/** Imports a relay plugin by its config `type`; `where` names the config entry in errors. */
export async function loadPlugin(type: string, configDir: string, where = `relays.${type}`): Promise<RelayPlugin> {
  let module: unknown
  try {
    module = await importPlugin(type, configDir)
  } catch (error) {
    if (isMissingPackage(error, type)) throw new ConfigError(`${where}.type: ${unknownType(type)}`, { cause: error })
    throw new ConfigError(`${where}.type: cannot load relay plugin "${type}": ${(error as Error).message}`, {
      cause: error
    })
  }
  const plugin = asPlugin(module)
  if (!plugin) {
    throw new ConfigError(
      `${where}.type: "${type}" is not a relay plugin: it must export type, options (a TypeBox schema) and create()`
    )
  }
  return plugin
}

/** Loads a relay's plugin and validates its options, without creating it. */
export async function prepareRelay(name: string, entry: { type: string }, configDir: string): Promise<PreparedRelay> {
  const where = `relays.${name}`
  const plugin = await loadPlugin(entry.type, configDir, where)
  const { type: _type, ...raw } = entry
  // The config is frozen; defaults are filled into a copy of the relay's part of it.
  const options = Value.Default(plugin.options, structuredClone(raw))
  const coercion = coerceSubstitutions(plugin.options, options, substitutionsOf(entry), dotPath(where))
  const problems = [
    ...coercion.problems,
    ...checker(plugin.options)
      .problems(options, dotPath(where))
      .filter(p => !isAbout(p, coercion.paths))
  ]
  // The plugin's own checks first: a missing field reads before the unknown one that may be its typo.
  if (plugin.check) problems.unshift(...plugin.check(options as never).map(problem => `${where}.${problem}`))
  if (problems.length > 0) throw new ConfigError(problems.join('\n'))
  return { name, type: entry.type, plugin, options }
}

export type LoggerFactory = (bindings: { relay: string }) => RelayLogger

/** Loads, validates and creates every configured relay, in config order. */
export async function loadRelays(
  entries: Record<string, { type: string }>,
  configDir: string,
  loggerFor: LoggerFactory,
  clock: Clock = systemClock,
  /** More of each relay's RelayInit, such as the handoff desk. */
  extraInit: (name: string) => Partial<RelayInit> = () => ({})
): Promise<Map<string, Relay>> {
  const prepared = await Promise.all(
    Object.entries(entries).map(([name, entry]) => prepareRelay(name, entry, configDir))
  )
  const relays = new Map<string, Relay>()
  for (const { name, plugin, options } of prepared) {
    try {
      relays.set(
        name,
        await plugin.create(options, { ...extraInit(name), name, logger: loggerFor({ relay: name }), configDir, clock })
      )
    } catch (error) {
      for (const relay of relays.values()) await relay.close?.().catch(() => {})
      throw new ConfigError(`relays.${name}: could not start: ${(error as Error).message}`, { cause: error })
    }
  }
  return relays
}
