import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import type { Config, GptbotsSourceApi } from '../config/schema.js'

/** The source of `POST /webhook`, as messages name it. */
export const DEFAULT_SOURCE = 'default'

const defaults = { apiUrl: 'https://api.gptbots.ai', apiKeyEnv: 'GPTBOTS_API_KEY', timeoutMs: 15_000 } as const
const aliased = ['apiUrl', 'apiKeyEnv', 'apiKeyFile', 'timeoutMs'] as const

/** One source's way to GPTBots' API, resolved: where, how long a call may take, and where its key comes from. */
export interface SourceApiSettings {
  source: string
  apiUrl: string
  timeoutMs: number
  /** Where the key is read from, as the config names it (never the key). */
  keyFrom: { env: string; path: string } | { file: string; path: string }
  pace: { perMinute: number; burst: number }
  maxAttempts: number
}

/**
 * Problems of the GPTBots API settings that the schema cannot see: `handoff.gptbots` (the
 * older place of the default source's settings) disagreeing with `gptbots`, and settings for
 * sources that do not exist.
 */
export function gptbotsSettingsProblems(config: Config): string[] {
  const problems: string[] = []
  const old = config.handoff?.gptbots
  if (old) {
    for (const field of aliased) {
      const here = old[field]
      const there = config.gptbots[field]
      const thereIsDefault = field !== 'apiKeyFile' && there === defaults[field]
      if (here !== undefined && there !== undefined && !thereIsDefault && here !== there)
        problems.push(
          `handoff.gptbots.${field} (${JSON.stringify(here)}) and gptbots.${field} (${JSON.stringify(there)}) disagree: they are the same setting, keep one`
        )
    }
  }
  const sources = new Set([DEFAULT_SOURCE, ...Object.keys(config.auth.sources)])
  config.backfill.sources?.forEach((name, i) => {
    if (!sources.has(name))
      problems.push(`backfill.sources.${i} names source "${name}", which is neither "default" nor in auth.sources`)
  })
  for (const name of Object.keys(config.gptbots.sources)) {
    if (!Object.hasOwn(config.auth.sources, name))
      problems.push(
        `gptbots.sources."${name}" is not a source in auth.sources (known: ${Object.keys(config.auth.sources).join(', ') || 'none'}); the default source's settings are gptbots' own fields`
      )
  }
  return problems
}

/**
 * The GPTBots API settings of a source: its own (`gptbots.sources.<name>`) field by field over
 * the default source's, which are `gptbots`' fields, or `handoff.gptbots`' where it sets them.
 */
export function sourceApiSettings(config: Config, source: string): SourceApiSettings {
  const top = config.gptbots
  const old = config.handoff?.gptbots ?? {}
  const own: GptbotsSourceApi = source === DEFAULT_SOURCE ? {} : (top.sources[source] ?? {})
  const ownPath = (field: string) => `gptbots.sources.${source}.${field}`
  const inherited = <K extends (typeof aliased)[number]>(field: K) =>
    old[field] !== undefined
      ? { value: old[field], path: `handoff.gptbots.${field}` }
      : { value: top[field], path: `gptbots.${field}` }
  let keyFrom: SourceApiSettings['keyFrom']
  if (own.apiKeyFile !== undefined) keyFrom = { file: own.apiKeyFile, path: ownPath('apiKeyFile') }
  else if (own.apiKeyEnv !== undefined) keyFrom = { env: own.apiKeyEnv, path: ownPath('apiKeyEnv') }
  else {
    const file = inherited('apiKeyFile')
    const env = inherited('apiKeyEnv')
    keyFrom = file.value !== undefined ? { file: file.value, path: file.path } : { env: env.value!, path: env.path }
  }
  return {
    source,
    apiUrl: own.apiUrl ?? inherited('apiUrl').value!,
    timeoutMs: inherited('timeoutMs').value!,
    keyFrom,
    pace: top.pace,
    maxAttempts: top.maxAttempts
  }
}

/** Why a source has no key, in words that name the source and where the key was looked for. */
export class MissingApiKey extends Error {
  constructor(
    readonly source: string,
    message: string
  ) {
    super(message)
    this.name = 'MissingApiKey'
  }
}

/**
 * The source's GPTBots API key, from its environment variable or file; never from the config
 * itself. Throws MissingApiKey naming the source and where it looked (never the key).
 */
export function readSourceKey(settings: SourceApiSettings, configDir: string, env: NodeJS.ProcessEnv): string {
  const who = `the GPTBots API key of source "${settings.source}"`
  const { keyFrom } = settings
  if ('file' in keyFrom) {
    let key: string
    try {
      key = readFileSync(resolve(configDir, keyFrom.file), 'utf8').trim()
    } catch (error) {
      throw new MissingApiKey(
        settings.source,
        `${keyFrom.path}: cannot read ${who} from ${keyFrom.file}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`
      )
    }
    if (key === '') throw new MissingApiKey(settings.source, `${keyFrom.path}: ${keyFrom.file} is empty (${who})`)
    return key
  }
  const key = env[keyFrom.env]?.trim()
  if (!key)
    throw new MissingApiKey(
      settings.source,
      `${who} is missing: set the environment variable ${keyFrom.env} (${keyFrom.path}), or name a file in ${keyFrom.path.replace(/apiKeyEnv$/, 'apiKeyFile')}`
    )
  return key
}

/**
 * The sources an automatic backfill reads: `backfill.sources`, else the default source when it is
 * in use (auth.tokens, or no named sources) and every source with a key of its own. Sources that
 * share the default's key are the same bot: reading it under each would post its messages twice.
 */
export function backfillSources(config: Config): string[] {
  if (config.backfill.sources) return [...new Set(config.backfill.sources)]
  const found: string[] = []
  if (config.auth.tokens.length > 0 || Object.keys(config.auth.sources).length === 0) found.push(DEFAULT_SOURCE)
  for (const [name, own] of Object.entries(config.gptbots.sources))
    if (own.apiKeyEnv !== undefined || own.apiKeyFile !== undefined) found.push(name)
  return found
}
