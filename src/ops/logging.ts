import { pino, type DestinationStream, type LogFn, type Logger } from 'pino'
import pretty from 'pino-pretty'
import type { Config } from '../config/schema.js'
import { prettyOptions } from './log-pretty.js'

export const censor = '[redacted]'

/** Secrets shorter than this are not scrubbed from text: they would mangle ordinary words and keys. */
const shortestSecret = 6

/** Relay option keys whose string values are secrets, wherever they sit in the relay's options. */
const secretKey = /token|secret|passw|credential|authori[sz]ation|cookie|webhook[-_]?url|signing|private|key$/i

/**
 * Fields whose values are secrets wherever they sit in a logged object: a string is replaced, and
 * so is an array of strings (`tokens`). Matched in the finished line, at any depth, which costs a
 * test per line instead of pino's redaction paths walking every object (4x a plain line).
 */
const secretFields = ['token', 'tokens', 'botToken', 'secret', 'signingSecret', 'password', 'webhookUrl']
const jsonString = String.raw`"(?:[^"\\]|\\.)*"`
const secretField = new RegExp(
  String.raw`("(?:${secretFields.join('|')})"\s*:\s*)(?:${jsonString}|\[\s*(?:${jsonString}\s*,?\s*)*\])`,
  'g'
)
const mayHoldSecretField = new RegExp(`"(?:${secretFields.join('|')})"`)

/**
 * The password inside a URL (`https://user:password@host`), if the string is one. The user name is
 * not a secret: hiding it (`postgres` in `postgres://postgres@db/relay`) would also blank out every
 * other use of that word, such as the store driver's name in the start-up line.
 */
function urlCredentials(value: string): string[] {
  if (!value.includes('@') || !value.includes('://')) return []
  try {
    const url = new URL(value)
    const found = [url.password].filter(Boolean)
    return found.flatMap(part => [part, decodeURIComponent(part)])
  } catch {
    return []
  }
}

function relayOptionSecrets(value: unknown, key: string, into: Set<string>): void {
  if (typeof value === 'string') {
    if (secretKey.test(key)) into.add(value)
    for (const part of urlCredentials(value)) into.add(part)
  } else if (Array.isArray(value)) {
    for (const item of value) relayOptionSecrets(item, key, into)
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) relayOptionSecrets(v, k, into)
  }
}

/**
 * Every secret value in a config: webhook tokens, the admin token, the store URL's password and
 * each relay option that looks secret (by its key, or credentials inside a URL).
 */
export function configSecrets(config: Partial<Pick<Config, 'auth' | 'admin' | 'store' | 'relays'>>): string[] {
  const found = new Set<string>(config.auth?.tokens)
  for (const source of Object.values(config.auth?.sources ?? {})) for (const token of source.tokens) found.add(token)
  if (config.admin?.token) found.add(config.admin.token)
  if (config.store?.driver === 'postgres') for (const part of urlCredentials(config.store.url)) found.add(part)
  for (const entry of Object.values(config.relays ?? {})) relayOptionSecrets(entry, 'type', found)
  return [...found]
}

// A JSON key "authorization" in any casing, anywhere (request headers, an SDK error's config.headers).
const authorizationValue = /("(?:proxy-)?authorization"\s*:\s*)"(?:[^"\\]|\\.)*"/gi
// Credentials written into text, such as an error message that quotes a header.
const credentialInText = /\b(Bearer|Basic)(\s+)[A-Za-z0-9._~+/=-]{6,}/g
// A Discord bot token after `Bot ` (its Authorization scheme): three dot-separated base64url parts.
const discordBotToken = /\b(Bot)(\s+)[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{10,}/g
const mayHoldCredentials = /authori[sz]ation|bearer|basic|\bBot\s/i

/**
 * Returns a function that removes the given secrets from one serialized log line. It looks for
 * each secret as it appears inside a JSON string, so the line stays valid JSON.
 */
export function secretScrubber(secrets: Iterable<string>): (line: string) => string {
  const needles = [
    ...new Set(
      [...secrets].filter(secret => secret.length >= shortestSecret).map(secret => JSON.stringify(secret).slice(1, -1))
    )
  ]
    // Longest first, so that a secret containing another is replaced whole.
    .sort((a, b) => b.length - a.length)
  return line => {
    let out = line
    for (const needle of needles) {
      if (out.includes(needle)) out = out.replaceAll(needle, censor)
    }
    if (mayHoldCredentials.test(out)) {
      out = out
        .replace(authorizationValue, `$1"${censor}"`)
        .replace(credentialInText, `$1$2${censor}`)
        .replace(discordBotToken, `$1$2${censor}`)
    }
    if (mayHoldSecretField.test(out)) out = out.replace(secretField, `$1"${censor}"`)
    return out
  }
}

/**
 * Removes secrets from plain text (a stored delivery error, anything the admin API shows) the way
 * log lines are scrubbed: by the config's secret values and by credential patterns. `secrets`
 * may grow (a reload); the scrubber is rebuilt when it has.
 */
export class TextScrubber {
  readonly #secrets: Set<string>
  #scrub: (line: string) => string
  #size: number

  constructor(secrets: Iterable<string> = []) {
    this.#secrets = new Set(secrets)
    this.#scrub = secretScrubber(this.#secrets)
    this.#size = this.#secrets.size
  }

  /** Adds the secrets of a (reloaded) config, or of new relay entries. Old ones stay: old errors may hold them. */
  learn(config: Parameters<typeof configSecrets>[0]): void {
    for (const secret of configSecrets(config)) this.#secrets.add(secret)
    if (this.#secrets.size === this.#size) return
    this.#size = this.#secrets.size
    this.#scrub = secretScrubber(this.#secrets)
  }

  /** Serialized JSON with every secret replaced by `[redacted]`; it stays valid JSON. */
  readonly json = (json: string): string => this.#scrub(json)

  /** The text with every secret replaced by `[redacted]`. */
  readonly text = (text: string): string => JSON.parse(this.#scrub(JSON.stringify(text))) as string
}

/** Each root logger's scrubber, replaceable when a reload brings new secrets. */
const scrubbers = new WeakMap<Logger, { secrets: Set<string>; scrub: (line: string) => string }>()

/**
 * Adds a reloaded config's secrets (or just new relays') to what `logger`, made by createLogger,
 * scrubs; other loggers are left alone. The old ones stay: an old relay instance may still be
 * finishing a delivery and logging about it.
 */
export function scrubSecretsOf(logger: Logger, config: Parameters<typeof configSecrets>[0]): void {
  const current = scrubbers.get(logger)
  if (!current) return
  for (const secret of configSecrets(config)) current.secrets.add(secret)
  current.scrub = secretScrubber(current.secrets)
}

export interface LoggerOptions {
  /** Where lines go; default stderr. */
  destination?: DestinationStream
  /** Whether the output is a terminal, for `log.format` auto; default stderr's. */
  isTTY?: boolean
}

/**
 * The relay's logger: JSON lines on stderr, or pretty lines when asked or on a terminal. Secrets
 * are removed from every finished line: the config's secret values wherever they appear (a token
 * quoted inside an error message, say), Authorization values and credentials in text, and the
 * values of secret-named fields at any depth.
 */
export function createLogger(config: Config, options: LoggerOptions = {}): Logger {
  const isTTY = options.isTTY ?? process.stderr.isTTY === true
  const usePretty = config.log.format === 'pretty' || (config.log.format === 'auto' && isTTY)
  const destination = usePretty
    ? pretty({
        ...prettyOptions(isTTY),
        destination: options.destination ?? 2,
        sync: options.destination !== undefined
      })
    : (options.destination ?? pino.destination({ fd: 2, sync: false }))
  const secrets = new Set(configSecrets(config))
  const scrubber = { secrets, scrub: secretScrubber(secrets) }
  const logger = pino(
    {
      level: config.log.level,
      // Child loggers (the dispatcher's, each relay's) write through their root, so through this too.
      hooks: { streamWrite: line => scrubber.scrub(line), logMethod: withoutBoundKeys }
    },
    destination
  )
  scrubbers.set(logger, scrubber)
  return logger
}

/** Each logger's bound keys (its bindings and its parents'), looked up once per logger. */
const boundKeys = new WeakMap<Logger, Set<string>>()
/** A key as it starts a field in pino's serialized bindings: `"relay":`. */
const fieldStarts = new Map<string, string>()

/**
 * Drops from a logged object the keys its logger is bound to already: pino would write both, and
 * a JSON line with `relay` twice is read differently by different tools. A relay plugin, built in
 * or not, logs through a logger bound to `relay` (and, in a delivery, to the conversation and
 * message), so it cannot be expected to know. Every request and every delivery has a logger of its
 * own, so the common case (no key bound) is told from the serialized bindings pino keeps, without
 * parsing them: `"key":` can only appear there as a key, a quote inside a value being escaped.
 */
function withoutBoundKeys(this: Logger, args: Parameters<LogFn>, method: LogFn): void {
  const [first] = args
  if (first !== null && typeof first === 'object' && !(first instanceof Error)) {
    const serialized = (this as unknown as Record<symbol, string | undefined>)[pino.symbols.chindingsSym] ?? ''
    const mayRepeat = Object.keys(first).some(key => {
      let start = fieldStarts.get(key)
      if (start === undefined) {
        start = `${JSON.stringify(key)}:`
        if (fieldStarts.size < 1000) fieldStarts.set(key, start)
      }
      return serialized.includes(start)
    })
    if (mayRepeat) {
      let keys = boundKeys.get(this)
      if (!keys) {
        keys = new Set(Object.keys(this.bindings()))
        boundKeys.set(this, keys)
      }
      const own = { ...(first as Record<string, unknown>) }
      for (const key of keys) delete own[key]
      args[0] = own
    }
  }
  method.apply(this, args)
}

/**
 * Long-lived child loggers whose level follows a reloaded `log.level`. Held weakly: the loggers of
 * relay instances a reload retired go with those instances instead of piling up here.
 */
export class LoggerSet {
  readonly #refs = new Set<WeakRef<Logger>>()

  add(logger: Logger): Logger {
    this.#refs.add(new WeakRef(logger))
    return logger
  }

  /** The loggers still in use; forgets the others. */
  *live(): Generator<Logger> {
    for (const ref of this.#refs) {
      const logger = ref.deref()
      if (logger) yield logger
      else this.#refs.delete(ref)
    }
  }
}
