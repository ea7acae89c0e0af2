import type { TokenSet } from '../http/tokens.js'

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
