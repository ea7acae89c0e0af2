import { existsSync, readFileSync } from 'node:fs'
import { dirname, isAbsolute, resolve } from 'node:path'
import { type ParseError, ParseErrorCode, parseTree } from 'jsonc-parser'
import Value from 'typebox/value'
import { ConfigError } from '../errors.js'
import { checker, dotPath } from '../validation/validate.js'
import { Config } from './schema.js'
import { gptbotsSettingsProblems } from '../gptbots/settings.js'
import { coerceSubstitutions, isAbout, rememberSubstitutions, substitute } from './substitute.js'

export interface LoadedConfig {
  config: Config
  /** Where relative paths in the config are resolved from. */
  configDir: string
  /** The file it came from, or undefined for the built-in default. */
  file?: string
  /** What start should say before it runs, such as a path read the way older versions read it. */
  warnings?: string[]
}

const configChecker = checker(Config)
function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v)
    Object.freeze(value)
  }
  return value
}

/** Checks what the schema cannot: references between sections, patterns that must compile. */
function checkMeaning(config: Config): string[] {
  const problems: string[] = []
  const relayNames = new Set(Object.keys(config.relays))
  config.routes?.forEach((route, i) => {
    route.to.forEach((name, j) => {
      if (!relayNames.has(name))
        problems.push(
          `routes.${i}.to.${j} names relay "${name}", which is not in relays (known: ${[...relayNames].join(', ') || 'none'})`
        )
    })
    const pattern = route.match?.conversation
    if (pattern !== undefined) {
      try {
        new RegExp(pattern)
      } catch (error) {
        problems.push(`routes.${i}.match.conversation is not a valid regular expression: ${(error as Error).message}`)
      }
    }
  })
  config.handoff?.relays.forEach((name, i) => {
    if (!relayNames.has(name))
      problems.push(
        `handoff.relays.${i} names relay "${name}", which is not in relays (known: ${[...relayNames].join(', ') || 'none'})`
      )
  })
  for (const name of Object.keys(config.auth.sources)) {
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name))
      problems.push(
        `auth.sources."${name}": a source name is used in the URL /webhook/<name>, so it may only have letters, digits, _, . and - (at most 64)`
      )
  }
  const tokens = config.auth.tokens.length + Object.keys(config.auth.sources).length
  if (tokens === 0 && !config.auth.allowUnauthenticated) {
    problems.push(
      'auth.tokens is empty: set the GPTBots API key as a token (for example "${GPTBOTS_API_KEY}"), or set auth.allowUnauthenticated to true to accept webhooks from anyone'
    )
  }
  return problems
}

/** Interpolates, fills defaults, validates and freezes a parsed config. Throws ConfigError naming every problem. */
export function resolveConfig(
  raw: unknown,
  options: { configDir: string; env?: NodeJS.ProcessEnv; file?: string }
): LoadedConfig {
  const env = options.env ?? process.env
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    throw new ConfigError('the config must be a JSON object')
  const { value: filled, substitutions, unfilled } = substitute(raw, env, options.configDir)
  const value = Value.Default(Config, filled) as Record<string, unknown>
  const coercion = coerceSubstitutions(Config, value, substitutions, dotPath(''))
  // A missing variable leaves its value empty: the schema's complaint about that would only repeat it.
  const silenced = [...unfilled.map(u => dotPath('')(u.path)), ...coercion.paths]
  const problems = [
    ...unfilled.map(u => u.problem),
    ...coercion.problems,
    ...configChecker.problems(value, dotPath('')).filter(p => !isAbout(p, silenced))
  ]
  if (problems.length > 0) throw new ConfigError(problems.join('\n'))
  const config = value as Config
  if (env.PORT !== undefined && env.PORT !== '') {
    const port = Number(env.PORT)
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      throw new ConfigError(`PORT: "${env.PORT}" is not a port number`)
    config.server.port = port
  }
  const meaning = [...checkMeaning(config), ...gptbotsSettingsProblems(config)]
  if (meaning.length > 0) throw new ConfigError(meaning.join('\n'))
  const warnings = resolveStorePath(config, options.configDir)
  for (const [name, entry] of Object.entries(config.relays)) {
    const inside = substitutions.filter(s => s.path[0] === 'relays' && s.path[1] === name)
    rememberSubstitutions(
      entry,
      inside.map(s => ({ ...s, path: s.path.slice(2) }))
    )
  }
  return { config: deepFreeze(config), configDir: options.configDir, file: options.file, warnings }
}

/**
 * Relative paths in a config are relative to the config file. The SQLite file was once relative to
 * the working directory instead: where a file is found only there, it is kept, with a warning.
 */
function resolveStorePath(config: Config, configDir: string): string[] {
  const store = config.store
  if (store.driver !== 'sqlite' || store.path === ':memory:' || isAbsolute(store.path)) return []
  const written = store.path
  const beside = resolve(configDir, written)
  const legacy = resolve(written)
  store.path = beside
  if (legacy === beside || existsSync(beside) || !existsSync(legacy)) return []
  store.path = legacy
  return [
    `store.path "${written}" is read relative to the config file (${beside}), but the store is at ${legacy}, relative to the working directory: using that one. Move it beside the config file, or write its absolute path, to silence this.`
  ]
}

/** jsonc-parser's error codes that say more than V8's "Unexpected token", in the relay's words. */
const jsonMistakes: Partial<Record<ParseErrorCode, string>> = {
  [ParseErrorCode.InvalidCommentToken]: 'JSON has no comments; remove the comment',
  [ParseErrorCode.InvalidSymbol]:
    'this is not a JSON value: strings need double quotes, and true, false and null are lower-case',
  [ParseErrorCode.PropertyNameExpected]: 'a field name must be in double quotes',
  [ParseErrorCode.ValueExpected]: 'a value is missing here'
}

/**
 * Where a config file stops being JSON, as `file:line:column`, which editors jump to, and why.
 * JSON.parse gives at most a character position, and for an unexpected character none at all, so
 * the place comes from jsonc-parser, which reads the same grammar and reports every error's offset.
 */
function jsonProblem(path: string, text: string, error: Error): string {
  const found: ParseError[] = []
  parseTree(text, found, { disallowComments: true, allowTrailingComma: false })
  const first = found[0]
  const at = /at position (\d+)/.exec(error.message)
  const position = first?.offset ?? (at ? Number(at[1]) : text.length)
  const before = text.slice(0, position)
  const line = before.split('\n').length
  const column = position - before.lastIndexOf('\n')
  const trailingComma = /,\s*$/.test(before) && /^\s*[}\]]/.test(text.slice(position))
  const v8 = error.message.replace(/ in JSON at position \d+.*$/s, '').replace(/, ".*" is not valid JSON$/s, '')
  const why = trailingComma
    ? 'a comma before } or ] is not allowed in JSON'
    : ((first && jsonMistakes[first.error]) ?? v8)
  return `${path}:${line}:${column}: not valid JSON: ${why}`
}

/** One problem on the file's line; several each on a line of their own under it. */
function inFile(path: string, message: string): string {
  return message.includes('\n') ? `${path}:\n${message}` : `${path}: ${message}`
}

export function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const path = resolve(file)
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    throw new ConfigError(`cannot read config file ${path}: ${(error as Error).message}`, { cause: error })
  }
  let raw: unknown
  try {
    // Some Windows editors start UTF-8 files with a byte-order mark, which JSON does not allow.
    raw = JSON.parse(text.replace(/^\uFEFF/, ''))
  } catch (error) {
    throw new ConfigError(jsonProblem(path, text.replace(/^\uFEFF/, ''), error as Error), { cause: error })
  }
  try {
    return resolveConfig(raw, { configDir: dirname(path), env, file: path })
  } catch (error) {
    if (error instanceof ConfigError) throw new ConfigError(inFile(path, error.message), { cause: error.cause })
    throw error
  }
}

/**
 * What `npm start` runs with when there is no config: the console relay, no credentials asked,
 * listening only on this machine so that the open intake is not exposed.
 */
export function defaultConfig(env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  return resolveConfig(
    {
      server: { host: '127.0.0.1' },
      auth: { allowUnauthenticated: true },
      relays: { console: { type: 'console' } }
    },
    { configDir: process.cwd(), env }
  )
}
