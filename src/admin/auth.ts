import type { TokenSet } from '../http/tokens.js'

/**
 * Whether an Authorization header carries the admin token. Only `Bearer` counts: the admin token
 * is not a GPTBots credential, so GPTBots' `Basic` forms have no reason to be accepted. Pure.
 */
export function isAdmin(header: string | undefined, admin: TokenSet): boolean {
  const match = header === undefined ? null : /^\s*bearer\s+(\S+)\s*$/i.exec(header)
  // Compared even when absent, so a missing header costs what a wrong one does.
  return admin.matches(match?.[1] ?? '') && match !== null
}
