import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import type { Clock } from '../clock.js'

/*
 * Why a signed cookie rather than sessions kept in the store: the cookie carries the session (an
 * id and when it expires), signed with a key derived from the admin token, so every replica and
 * every restart reads it without a shared table, nothing grows with the number of sign-ins, and
 * a reload that changes the admin token ends every session at once (the key changes). What a
 * cookie cannot do alone is end early: signing out records the id as revoked in the store (the
 * relay state it already has), which every replica asks on each request. That is one small row per
 * sign-out, read by key; the CSRF token is derived from the session id, so it needs no storage.
 */

/** One signed-in browser. The CSRF token is the session's own, sent back in every form. */
export interface Session {
  id: string
  /** The cookie that carries the session. */
  cookie: string
  csrf: string
  createdAt: number
  expiresAt: number
}

/** Where sign-outs are remembered, shared by every replica on one store, until the session would have expired. */
export interface Revocations {
  revoke(id: string, expiresAt: number): Promise<void>
  revoked(id: string): Promise<boolean>
}

export interface SessionOptions {
  clock: Clock
  /** How long a session lasts from sign-in. */
  ttlMs: number
  revocations: Revocations
  /** The most sessions this process keeps track of for its live streams (not a limit on sign-ins). */
  max: number
}

const randomId = () => randomBytes(32).toString('base64url')
export const hashToken = (token: string) => createHash('sha256').update(token).digest('base64url')
const mac = (key: Buffer, text: string) => createHmac('sha256', key).update(text).digest('base64url')

/** Compares two secrets in time that does not depend on where they differ. */
export function sameSecret(a: string | undefined, b: string): boolean {
  const left = createHash('sha256')
    .update(a ?? '')
    .digest()
  const right = createHash('sha256').update(b).digest()
  return timingSafeEqual(left, right) && a !== undefined
}

/** The dashboard's sessions: signed cookies valid on every replica and across restarts, revocable. */
export class Sessions {
  /** Sessions seen by this process, so their live streams end when they expire or the token changes. */
  private readonly seen = new Map<string, { expiresAt: number; tokenHash: string }>()
  private readonly ended = new Set<(id: string) => void>()

  constructor(private readonly options: SessionOptions) {}

  open(token: string): Session {
    const now = this.options.clock.now()
    return this.sign(token, randomId(), now + this.options.ttlMs)
  }

  /** The live session a cookie carries, for this admin token: signed with it, unexpired, not signed out. */
  async get(cookie: string | undefined, token: string | undefined): Promise<Session | undefined> {
    if (!cookie || !token || cookie.length > 200) return undefined
    const [id, expires, signature] = cookie.split('.')
    if (!id || !expires || !signature || !/^\d{1,15}$/.test(expires)) return undefined
    const session = this.sign(token, id, Number(expires))
    if (!sameSecret(cookie, session.cookie)) return undefined
    if (session.expiresAt <= this.options.clock.now()) return undefined
    if (await this.options.revocations.revoked(id)) {
      this.forget(id)
      return undefined
    }
    this.track(session, token)
    return session
  }

  /** Signs a session out on every replica: the store remembers its id until it would have expired. */
  async end(session: Session): Promise<void> {
    await this.options.revocations.revoke(session.id, session.expiresAt)
    this.forget(session.id)
  }

  /** Ends the live streams of sessions past their time, or opened with another admin token than `token`. */
  sweep(token?: string): void {
    const now = this.options.clock.now()
    const current = token === undefined ? undefined : hashToken(token)
    for (const [id, seen] of [...this.seen]) {
      if (seen.expiresAt <= now || (current !== undefined && seen.tokenHash !== current)) this.forget(id)
    }
  }

  /** Called with the id of every session that ends here (sign-out, expiry, token change). */
  onEnd(listener: (id: string) => void): void {
    this.ended.add(listener)
  }

  get size(): number {
    return this.seen.size
  }

  /** A fresh random value, for the sign-in form's CSRF cookie. */
  static nonce(): string {
    return randomId()
  }

  private sign(token: string, id: string, expiresAt: number): Session {
    const key = createHmac('sha256', token).update('gptbots-relay dashboard session v1').digest()
    const body = `${id}.${expiresAt}`
    return {
      id,
      cookie: `${body}.${mac(key, body)}`,
      csrf: mac(key, `csrf.${id}`),
      createdAt: expiresAt - this.options.ttlMs,
      expiresAt
    }
  }

  private track(session: Session, token: string): void {
    if (this.seen.has(session.id)) return
    // A Map iterates in insertion order: past the bound, the oldest is no longer tracked (not signed out).
    while (this.seen.size >= this.options.max) this.seen.delete(this.seen.keys().next().value!)
    this.seen.set(session.id, { expiresAt: session.expiresAt, tokenHash: hashToken(token) })
  }

  private forget(id: string): void {
    this.seen.delete(id)
    for (const listener of this.ended) listener(id)
  }
}

/** Sign-outs kept in the store's relay state, under a name no relay can have. */
export function storeRevocations(store: {
  stateGet(relay: string, source: string, conversationId: string, key: string): Promise<unknown>
  stateSet(relay: string, source: string, conversationId: string, key: string, value: unknown): Promise<void>
}): Revocations {
  const at = (id: string) => ['@dashboard', 'sessions', createHash('sha256').update(id).digest('base64url')] as const
  return {
    revoke: (id, expiresAt) => store.stateSet(...at(id), 'revoked', expiresAt),
    revoked: async id => (await store.stateGet(...at(id), 'revoked')) !== undefined
  }
}
