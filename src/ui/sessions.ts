import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import type { Clock } from '../dispatch/clock.js'

/** One signed-in browser. The CSRF token is the session's own, sent back in every form. */
export interface Session {
  id: string
  csrf: string
  /** Which admin token the session was opened with: a reload that changes the token ends it. */
  tokenHash: string
  createdAt: number
  expiresAt: number
}

export interface SessionOptions {
  clock: Clock
  /** How long a session lasts from sign-in. */
  ttlMs: number
  /** The most sessions kept at once; signing in beyond it ends the oldest. */
  max: number
}

const randomId = () => randomBytes(32).toString('base64url')
export const hashToken = (token: string) => createHash('sha256').update(token).digest('base64url')

/** Compares two secrets in time that does not depend on where they differ. */
export function sameSecret(a: string | undefined, b: string): boolean {
  const left = createHash('sha256')
    .update(a ?? '')
    .digest()
  const right = createHash('sha256').update(b).digest()
  return timingSafeEqual(left, right) && a !== undefined
}

/**
 * The dashboard's sessions, in this process's memory: a restart signs everyone out, and each
 * replica has its own. Bounded in number and in age, so nothing grows with time.
 */
export class Sessions {
  private readonly sessions = new Map<string, Session>()
  private readonly ended = new Set<(id: string) => void>()

  constructor(private readonly options: SessionOptions) {}

  open(token: string): Session {
    this.sweep()
    // A Map iterates in insertion order: the first entry is the oldest session.
    while (this.sessions.size >= this.options.max) this.end(this.sessions.keys().next().value!)
    const now = this.options.clock.now()
    const session = {
      id: randomId(),
      csrf: randomId(),
      tokenHash: hashToken(token),
      createdAt: now,
      expiresAt: now + this.options.ttlMs
    }
    this.sessions.set(session.id, session)
    return session
  }

  /** The live session with this id, for this admin token; an expired or outdated one is ended. */
  get(id: string | undefined, token: string | undefined): Session | undefined {
    if (!id) return undefined
    const session = this.sessions.get(id)
    if (!session) return undefined
    if (session.expiresAt <= this.options.clock.now() || !token || session.tokenHash !== hashToken(token)) {
      this.end(id)
      return undefined
    }
    return session
  }

  end(id: string): void {
    if (!this.sessions.delete(id)) return
    for (const listener of this.ended) listener(id)
  }

  /** Ends every session past its time, or opened with another admin token than `token`. */
  sweep(token?: string): void {
    const now = this.options.clock.now()
    const current = token === undefined ? undefined : hashToken(token)
    for (const session of [...this.sessions.values()]) {
      if (session.expiresAt <= now || (current !== undefined && session.tokenHash !== current)) this.end(session.id)
    }
  }

  /** Called with the id of every session that ends (sign-out, expiry, eviction, token change). */
  onEnd(listener: (id: string) => void): void {
    this.ended.add(listener)
  }

  get size(): number {
    return this.sessions.size
  }

  /** A fresh random value, for the sign-in form's CSRF cookie. */
  static nonce(): string {
    return randomId()
  }
}
