import type { FastifyRequest } from 'fastify'
import type { Config } from '../config/schema.js'
import { RelayHttpError } from '../errors.js'
import { trust } from '../http/limits.js'
import { TokenSet } from '../http/tokens.js'

// Shared with the admin API; imported from here by what came before src/http/.
export { TokenSet } from '../http/tokens.js'

export type AuthResult = { ok: true } | { ok: false; reason: 'missing' | 'scheme' | 'mismatch' }

/**
 * What a request's Authorization header may carry: `Bearer <token>`, `Basic <token>` (GPTBots'
 * own form) or `Basic base64(user:token)` (what HTTP clients send). Pure; no clock needed.
 */
export function candidatesOf(header: string | undefined): string[] | 'missing' | 'scheme' {
  if (header === undefined || header.trim() === '') return 'missing'
  const match = /^\s*(\S+)\s+(.+?)\s*$/.exec(header)
  if (!match) return 'scheme'
  const scheme = match[1]!.toLowerCase()
  const value = match[2]!
  if (scheme === 'bearer') return [value]
  if (scheme !== 'basic') return 'scheme'
  const candidates = [value]
  if (/^[A-Za-z0-9+/]+={0,2}$/.test(value)) {
    const decoded = Buffer.from(value, 'base64').toString('utf8')
    const colon = decoded.indexOf(':')
    if (colon >= 0) candidates.push(decoded.slice(colon + 1))
  }
  return candidates
}

export function authenticate(header: string | undefined, tokens: TokenSet): AuthResult {
  const candidates = candidatesOf(header)
  if (candidates === 'missing' || candidates === 'scheme') return { ok: false, reason: candidates }
  let ok = false
  for (const candidate of candidates) ok = tokens.matches(candidate) || ok
  return ok ? { ok: true } : { ok: false, reason: 'mismatch' }
}

const sourceName = /^[A-Za-z0-9_.-]{1,64}$/

/** Which tokens a source needs: undefined when it is open, or throws when there is no such source. */
export function tokensFor(config: Config): (source: string) => TokenSet | undefined {
  const sets = new Map<string, TokenSet>()
  if (config.auth.tokens.length > 0) sets.set('default', new TokenSet(config.auth.tokens))
  for (const [name, source] of Object.entries(config.auth.sources)) sets.set(name, new TokenSet(source.tokens))
  return source => {
    const tokens = sets.get(source)
    if (tokens) return tokens
    // Every source with tokens was found above: what is left is open only when the config says so.
    if (config.auth.allowUnauthenticated && sourceName.test(source)) return undefined
    if (source === 'default')
      throw new RelayHttpError(
        'AUTH_INVALID',
        'POST /webhook has no tokens configured (auth.tokens); use the URL of your source, /webhook/<source>'
      )
    throw new RelayHttpError('SOURCE_UNKNOWN', `no webhook source named "${source}" is configured (auth.sources)`)
  }
}

/** The source a request names in its path (`/webhook/:source`, `/handoff/:source/...`), or `default`. */
export const sourceOf = (request: FastifyRequest): string => (request.params as { source?: string }).source ?? 'default'

const refusal = { missing: 'AUTH_MISSING', scheme: 'AUTH_SCHEME', mismatch: 'AUTH_INVALID' } as const

/**
 * Checks a request's credentials against the tokens of its source, as the config in force sets
 * them (a reload may change them), and marks it trusted; otherwise returns the refusal (throws
 * when the source does not exist). The same check for webhooks and for GPTBots' handoff calls.
 */
export function sourceAuth(liveConfig: () => Config): (request: FastifyRequest) => RelayHttpError | undefined {
  let auth = { from: liveConfig().auth, tokens: tokensFor(liveConfig()) }
  return request => {
    const config = liveConfig()
    if (config.auth !== auth.from) auth = { from: config.auth, tokens: tokensFor(config) }
    const needed = auth.tokens(sourceOf(request))
    // An open source (allowUnauthenticated) is one the config chose to take from anyone.
    if (needed) {
      const result = authenticate(request.headers.authorization, needed)
      if (!result.ok) return new RelayHttpError(refusal[result.reason])
    }
    trust(request)
    return undefined
  }
}
