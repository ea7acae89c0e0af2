import type { FastifyInstance } from 'fastify'
import type { Timers } from '../../src/ui/live.js'

export const ADMIN_TOKEN = 'admin-token-0123456789'

/** Timers that only fire when a test says, and that tell which are still set. */
export class ManualTimers implements Timers {
  readonly active = new Map<number, { callback: () => void; ms: number }>()
  private next = 1
  setInterval(callback: () => void, ms: number): unknown {
    const id = this.next++
    this.active.set(id, { callback, ms })
    return id
  }
  clearInterval(handle: unknown): void {
    this.active.delete(handle as number)
  }
  /** Fires every timer of this period once. */
  fire(ms: number): void {
    for (const timer of [...this.active.values()]) if (timer.ms === ms) timer.callback()
  }
  count(ms: number): number {
    return [...this.active.values()].filter(timer => timer.ms === ms).length
  }
}

/** The cookies a response sets, by name, with their attributes as written. */
export function setCookies(headers: Record<string, unknown>): Map<string, string> {
  const raw = headers['set-cookie']
  const list = raw === undefined ? [] : Array.isArray(raw) ? raw : [String(raw)]
  return new Map(list.map((line: string) => [line.split('=')[0]!, line]))
}

/** Signs in through the form as a browser would: fetch the page for its nonce cookie, then post. */
export async function signIn(app: FastifyInstance, token = ADMIN_TOKEN) {
  const login = await app.inject({ method: 'GET', url: '/ui/login' })
  const nonceCookie = setCookies(login.headers).get('gptbots_relay_login')!
  const nonce = /gptbots_relay_login=([^;]+)/.exec(nonceCookie)![1]!
  const res = await app.inject({
    method: 'POST',
    url: '/ui/login',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      cookie: `gptbots_relay_login=${nonce}`,
      origin: 'http://localhost:80',
      host: 'localhost:80',
      'sec-fetch-site': 'same-origin'
    },
    payload: new URLSearchParams({ nonce, token }).toString()
  })
  const session = /gptbots_relay_ui=([^;]+)/.exec(setCookies(res.headers).get('gptbots_relay_ui') ?? '')?.[1]
  const cookie = `gptbots_relay_ui=${session}`
  const page = session ? await app.inject({ method: 'GET', url: '/ui', headers: { cookie } }) : undefined
  const csrf = page ? /name="csrf" value="([^"]+)"/.exec(page.body)?.[1] : undefined
  return { res, session, cookie, csrf }
}
