import type { TLSSocket } from 'node:tls'
import cookie from '@fastify/cookie'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { conversationPage } from '../admin/routes.js'
import type { Clock } from '../clock.js'
import { Errors, RelayHttpError, type ErrorCode } from '../errors.js'
import type { Readiness } from '../ops/readiness.js'
import type { ConversationSummary, DeliveryLog, DeliveryRecord } from '../store/types.js'
import { css, icon, js } from './assets.js'
import { LiveHub, systemTimers, type Timers } from './live.js'
import {
  confirmMain,
  conversationHref,
  conversationMain,
  conversationsMain,
  deadLettersMain,
  errorMain,
  loginPage,
  type MessageEntry,
  overviewMain,
  page
} from './pages.js'
import { counterBy, DeliveredPerMinute } from './rates.js'
import { sameSecret, type Session, Sessions, storeRevocations } from './sessions.js'

export interface UiOptions {
  clock: Clock
  /** The app's metrics registry, when metrics are on: the dashboard reads its counters rather than counting again. */
  registry?: import('prom-client').Registry
  readiness: () => Promise<Readiness>
  /** How often the shared live poll reads the store, while any page listens. */
  liveIntervalMs?: number
  /** How often the delivered-per-minute chart notes the delivery counter, whether or not anyone looks. */
  sampleIntervalMs?: number
  timers?: Timers
  sessionTtlMs?: number
  maxSessions?: number
  maxLiveClients?: number
  maxLivePerSession?: number
}

const SESSION_COOKIE = 'gptbots_relay_ui'
const LOGIN_COOKIE = 'gptbots_relay_login'
const PAGE_SIZE = 50

const securityHeaders = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  // Not no-referrer: with it, browsers send `Origin: null` on form posts, and the origin check needs the real one.
  'referrer-policy': 'same-origin',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin'
}

const first = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value)?.split(',')[0]?.trim()

/** A failed admin call, with the admin API's own words. */
class AdminCallError extends Error {
  constructor(
    message: string,
    readonly status: number
  ) {
    super(message)
  }
}

declare module 'fastify' {
  interface FastifyRequest {
    uiSession?: Session
  }
}

/**
 * The delivery dashboard under /ui: server-rendered pages, a static script that keeps them live
 * over server-sent events, and forms for the admin actions. Disabled (ADMIN_DISABLED) without
 * admin.token; signing in takes that token once and hands out a session cookie. Every read and
 * action goes through the admin API, so the dashboard can do nothing the API does not allow.
 */
export async function uiRoutes(app: FastifyInstance, options: UiOptions): Promise<void> {
  const { clock } = options
  const timers = options.timers ?? systemTimers
  const token = () => app.relay.config.admin.token
  // The dashboard only reads: the delivery log is all of the store it sees.
  const store: DeliveryLog = app.relay.store
  const sessions = new Sessions({
    clock,
    ttlMs: options.sessionTtlMs ?? 12 * 3600_000,
    max: options.maxSessions ?? 1000,
    revocations: storeRevocations({
      stateGet: (...at) => app.relay.store.stateGet(...at),
      stateSet: (...at) => app.relay.store.stateSet(...at)
    })
  })
  const rates = new DeliveredPerMinute(options.registry, clock)
  // The store's readiness probe writes (SQLite checks that it can), so an open page re-reads
  // readiness every fifth tick (10 s at the default 2 s), not at every one.
  let ticks = 0
  let ready: Promise<Readiness> | undefined
  const readinessForLive = () => {
    if (ready === undefined || ticks % 5 === 0) ready = options.readiness()
    ticks++
    return ready
  }
  const live = new LiveHub({
    intervalMs: options.liveIntervalMs ?? 2000,
    heartbeatTicks: 10,
    maxClients: options.maxLiveClients ?? 100,
    maxPerSession: options.maxLivePerSession ?? 8,
    timers,
    onError: error => app.log.warn({ err: error }, 'dashboard: the live poll could not read the store'),
    snapshot: async () => {
      const current = token()
      // Streams of sessions that expired or whose token a reload changed end here.
      sessions.sweep(current)
      const [backlog, latest, ready] = await Promise.all([
        store.backlog(),
        store.listConversations({ limit: 1 }),
        readinessForLive()
      ])
      return JSON.stringify([backlog, latest, ready])
    }
  })
  sessions.onEnd(id => live.endSession(id))
  const sampler = options.registry
    ? timers.setInterval(() => void rates.sample().catch(() => undefined), options.sampleIntervalMs ?? 10_000)
    : undefined
  // Before the server stops taking connections: open event streams would keep it from closing.
  app.addHook('preClose', async () => {
    if (sampler !== undefined) timers.clearInterval(sampler)
    live.close()
  })

  await app.register(cookie)
  // Forms arrive URL-encoded; only here, the rest of the relay still takes JSON alone.
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit: 64 * 1024 },
    (_request, body, done) => done(null, new URLSearchParams(body as string))
  )

  const secure = (request: FastifyRequest) =>
    (request.raw.socket as TLSSocket).encrypted === true ||
    (app.relay.config.admin.trustForwardedProto === true && first(request.headers['x-forwarded-proto']) === 'https')

  /** Whether a form post comes from the dashboard's own pages, as far as the browser tells. */
  const sameOrigin = (request: FastifyRequest) => {
    const site = first(request.headers['sec-fetch-site'])
    if (site !== undefined && site !== 'same-origin') return false
    const origin = first(request.headers.origin)
    if (origin === undefined) return true
    const hosts = [request.headers.host]
    if (app.relay.config.admin.trustForwardedProto === true) hosts.push(first(request.headers['x-forwarded-host']))
    try {
      const from = new URL(origin)
      // Both sides through the URL parser, so a default port written out (":80") compares equal.
      return hosts.some(host => host !== undefined && new URL(`${from.protocol}//${host}`).host === from.host)
    } catch {
      return false
    }
  }

  const html = (reply: FastifyReply, body: string, status = 200) =>
    reply.code(status).header('cache-control', 'no-store').type('text/html; charset=utf-8').send(body)

  const refuse = (reply: FastifyReply, code: ErrorCode, message: string, back = '/ui') =>
    html(
      reply.header('x-relay-error', code),
      page({ title: 'Refused', csrf: reply.request.uiSession?.csrf }, errorMain(message, back)),
      Errors[code].status
    )

  app.addHook('onRequest', async (request, reply) => {
    const current = token()
    if (!current)
      throw new RelayHttpError(
        'ADMIN_DISABLED',
        'the dashboard is disabled: set admin.token in the config to enable it (and the admin API)'
      )
    for (const [name, value] of Object.entries(securityHeaders)) reply.header(name, value)
    request.uiSession = await sessions.get(request.cookies[SESSION_COOKIE], current)
  })

  /** Pages want a session: a browser without one is sent to sign in, a live refresh is told. */
  const signedIn = async (request: FastifyRequest, reply: FastifyReply) => {
    if (request.uiSession) return
    if (request.headers['x-ui-refresh'] !== undefined)
      return refuse(reply, 'UI_SESSION', Errors.UI_SESSION.message, '/ui/login')
    return reply.code(303).header('cache-control', 'no-store').redirect('/ui/login')
  }

  /** Actions want a session and its CSRF token in the form, from a page of this origin. */
  const action = async (request: FastifyRequest, reply: FastifyReply) => {
    const form = request.body instanceof URLSearchParams ? request.body : undefined
    if (!sameOrigin(request)) return refuse(reply, 'UI_CSRF', 'refused: this action did not come from the dashboard')
    if (!request.uiSession) return refuse(reply, 'UI_SESSION', Errors.UI_SESSION.message, '/ui/login')
    if (!form || !sameSecret(form.get('csrf') ?? undefined, request.uiSession.csrf))
      return refuse(
        reply,
        'UI_CSRF',
        'refused: the form is missing its token or is from an older session; reload the page'
      )
  }

  /** Calls the admin API in-process, with the admin token: the dashboard has no way around its checks. */
  const admin = async <T>(method: 'GET' | 'POST' | 'DELETE', url: string, payload?: object): Promise<T> => {
    const res = await app.inject({
      method,
      url: `/admin${url}`,
      headers: { authorization: `Bearer ${token()}` },
      ...(payload ? { payload } : {})
    })
    const body = res.json() as T & { msg?: string }
    if (res.statusCode >= 400)
      throw new AdminCallError(body.msg ?? `the admin API answered ${res.statusCode}`, res.statusCode)
    return body
  }

  const relayNames = () => [...app.relay.relays.keys()].sort()
  const enc = encodeURIComponent

  // ---- assets ----
  app.get('/assets/app.css', async (_request, reply) =>
    reply.header('cache-control', 'no-cache').type('text/css; charset=utf-8').send(css)
  )
  app.get('/assets/icon.svg', async (_request, reply) =>
    reply.header('cache-control', 'public, max-age=86400').type('image/svg+xml').send(icon)
  )
  app.get('/assets/app.js', async (_request, reply) =>
    reply.header('cache-control', 'no-cache').type('text/javascript; charset=utf-8').send(js)
  )

  // ---- signing in and out ----
  app.get('/login', async (request, reply) => {
    if (request.uiSession) return reply.code(303).redirect('/ui')
    const nonce = Sessions.nonce()
    reply.setCookie(LOGIN_COOKIE, nonce, {
      path: '/ui/login',
      httpOnly: true,
      sameSite: 'strict',
      secure: secure(request),
      maxAge: 3600
    })
    return html(reply, loginPage({ nonce }))
  })

  app.post('/login', async (request, reply) => {
    const form = request.body instanceof URLSearchParams ? request.body : new URLSearchParams()
    if (!sameOrigin(request) || !sameSecret(form.get('nonce') ?? undefined, request.cookies[LOGIN_COOKIE] ?? '')) {
      return refuse(reply, 'UI_CSRF', 'refused: sign in from the dashboard’s own sign-in page', '/ui/login')
    }
    const current = token()!
    if (!sameSecret(form.get('token') ?? undefined, current)) {
      request.log.info({ errorCode: 'ADMIN_AUTH' }, 'dashboard sign-in refused')
      const nonce = form.get('nonce')!
      return html(
        reply.header('x-relay-error', 'ADMIN_AUTH'),
        loginPage({ nonce, error: 'That is not the admin token.' }),
        401
      )
    }
    if (request.uiSession) await sessions.end(request.uiSession)
    const session = sessions.open(current)
    request.log.info('dashboard: signed in')
    reply.clearCookie(LOGIN_COOKIE, { path: '/ui/login' })
    reply.setCookie(SESSION_COOKIE, session.cookie, {
      path: '/ui',
      httpOnly: true,
      sameSite: 'strict',
      secure: secure(request),
      maxAge: Math.floor((session.expiresAt - session.createdAt) / 1000)
    })
    return reply.code(303).redirect('/ui')
  })

  app.post('/logout', { preHandler: action }, async (request, reply) => {
    await sessions.end(request.uiSession!)
    request.log.info('dashboard: signed out')
    reply.clearCookie(SESSION_COOKIE, { path: '/ui' })
    return reply.code(303).redirect('/ui/login')
  })

  // ---- live ----
  app.get('/events', async (request, reply) => {
    if (!request.uiSession) return refuse(reply, 'UI_SESSION', Errors.UI_SESSION.message, '/ui/login')
    reply.hijack()
    const headers = Object.fromEntries(Object.entries(reply.getHeaders()).map(([name, value]) => [name, String(value)]))
    if (!live.add(request.uiSession.id, reply.raw, headers)) {
      reply.raw.writeHead(429, {
        ...headers,
        'content-type': 'text/plain; charset=utf-8',
        'x-relay-error': 'UI_BUSY',
        'retry-after': '30'
      })
      reply.raw.end(Errors.UI_BUSY.message)
    }
  })

  // ---- overview ----
  app.get('/', { preHandler: signedIn }, async (request, reply) => {
    const registry = options.registry
    await rates.sample()
    const [backlog, ready, rateLimited, accepted, duplicates, probes, refused] = await Promise.all([
      store.backlog().catch((error: Error) => error),
      options.readiness(),
      counterBy(registry, 'gptbots_relay_delivery_rate_limited_total', 'relay'),
      counterBy(registry, 'gptbots_relay_messages_received_total', 'source'),
      counterBy(registry, 'gptbots_relay_messages_duplicate_total', 'source'),
      counterBy(registry, 'gptbots_relay_probes_total', 'source'),
      counterBy(registry, 'gptbots_relay_webhooks_rejected_total', 'code')
    ])
    const stats = backlog instanceof Error ? undefined : backlog
    const names = new Set([...relayNames(), ...Object.keys(stats?.pendingByRelay ?? {})])
    const ageOf = (at: number | undefined) => (at === undefined ? undefined : Math.max(0, clock.now() - at))
    const sum = (record: Record<string, number> | undefined) =>
      record === undefined ? undefined : Object.values(record).reduce((a, b) => a + b, 0)
    return html(
      reply,
      page(
        { title: 'Overview', tab: 'overview', csrf: request.uiSession!.csrf, live: true },
        overviewMain({
          relays: [...names].sort().map(name => ({
            name,
            ready: ready.relays[name] ?? 'not configured: its messages wait until it is',
            series: rates.available ? rates.series(name) : undefined,
            pending: stats?.pendingByRelay[name] ?? 0,
            dead: stats?.deadByRelay[name] ?? 0,
            oldestPendingAgeMs: ageOf(stats?.oldestPendingByRelay[name]),
            rateLimited: registry ? (rateLimited?.[name] ?? 0) : undefined
          })),
          oldestPendingAgeMs:
            stats?.oldestPendingAt === undefined ? undefined : Math.max(0, clock.now() - stats.oldestPendingAt),
          backlogError: backlog instanceof Error ? backlog.message : undefined,
          accepted,
          duplicates: sum(duplicates),
          probes: sum(probes),
          refused,
          store: { driver: app.relay.config.store.driver, state: ready.store },
          metrics: registry !== undefined
        })
      )
    )
  })

  // ---- conversations ----
  app.get('/conversations', { preHandler: signedIn }, async (request, reply) => {
    const query = request.query as Record<string, string | undefined>
    const q = (query.q ?? '').slice(0, 256)
    const relay = query.relay ?? ''
    const status = ['pending', 'dead', 'delivered'].includes(query.status ?? '') ? query.status! : ''
    // The filters are the store's query: one page of the listing, however few conversations match.
    let next: string | undefined
    const found: ConversationSummary[] = []
    try {
      const params = new URLSearchParams({ limit: String(PAGE_SIZE) })
      if (query.after) params.set('after', query.after)
      if (relay) params.set('relay', relay)
      if (status) params.set('status', status)
      if (q) params.set('search', q)
      const listing = await admin<{ conversations: ConversationSummary[]; next?: string }>(
        'GET',
        `/conversations?${params}`
      )
      found.push(...listing.conversations)
      next = listing.next
    } catch (error) {
      if (error instanceof AdminCallError)
        return html(
          reply,
          page(
            { title: 'Conversations', tab: 'conversations', csrf: request.uiSession!.csrf },
            errorMain(error.message, '/ui/conversations')
          ),
          error.status
        )
      throw error
    }
    return html(
      reply,
      page(
        { title: 'Conversations', tab: 'conversations', csrf: request.uiSession!.csrf, live: true },
        conversationsMain({
          relays: relayNames(),
          query: { q, relay, status },
          conversations: found,
          next
        })
      )
    )
  })

  // ---- one conversation ----
  app.get('/conversation', { preHandler: signedIn }, async (request, reply) => {
    const query = request.query as Record<string, string | undefined>
    const source = query.source ?? ''
    const conversationId = query.id ?? ''
    const csrf = request.uiSession!.csrf
    const layout = { title: 'Conversation', tab: 'conversations' as const, csrf }
    const afterSeq = query.afterSeq && /^\d{1,15}$/.test(query.afterSeq) ? Number(query.afterSeq) : undefined
    let listing: { messages: MessageEntry[]; next?: number }
    try {
      // Read as the admin API reads it, but not through its URL: an id such as ".." cannot be a path segment.
      listing = await conversationPage(store, source, conversationId, { afterSeq, limit: 100 })
    } catch (error) {
      if (error instanceof RelayHttpError)
        return html(reply, page(layout, errorMain(error.message, '/ui/conversations')), error.status)
      throw error
    }
    const done = query.queued === undefined ? undefined : `Queued ${query.queued} message(s) for ${query.relay ?? ''}.`
    return html(
      reply,
      page(
        { ...layout, live: true },
        conversationMain({
          source,
          conversationId,
          relays: relayNames(),
          messages: listing.messages,
          next: listing.next,
          csrf,
          notice: done
        })
      )
    )
  })

  app.post('/conversation/replay', { preHandler: action }, async (request, reply) => {
    const form = request.body as URLSearchParams
    const source = form.get('source') ?? ''
    const conversationId = form.get('id') ?? ''
    const relay = form.get('relay') ?? ''
    const csrf = request.uiSession!.csrf
    const back = conversationHref(source, conversationId)
    if (form.get('confirm') !== 'yes') {
      return html(
        reply,
        page(
          { title: 'Replay the conversation?', tab: 'conversations', csrf },
          confirmMain({
            question: `Send every message of this conversation again, in order, to ${relay}?`,
            detail: `${source} · ${conversationId}`,
            action: '/ui/conversation/replay',
            fields: { source, id: conversationId, relay },
            csrf,
            confirmLabel: `Replay into ${relay}`,
            cancelHref: back,
            danger: false
          })
        )
      )
    }
    try {
      const { queued } = await admin<{ queued: number }>(
        'POST',
        `/conversations/${enc(source)}/${enc(conversationId)}/replay`,
        { relay }
      )
      return reply.code(303).redirect(`${back}&${new URLSearchParams({ queued: String(queued), relay })}`)
    } catch (error) {
      if (error instanceof AdminCallError) return refuse(reply, 'UI_ACTION', error.message, back)
      throw error
    }
  })

  // ---- dead letters ----
  app.get('/dead-letters', { preHandler: signedIn }, async (request, reply) => {
    const query = request.query as Record<string, string | undefined>
    const relay = query.relay ?? ''
    const csrf = request.uiSession!.csrf
    const params = new URLSearchParams({ limit: String(PAGE_SIZE) })
    if (relay) params.set('relay', relay)
    if (query.afterId && /^\d{1,15}$/.test(query.afterId)) params.set('afterId', query.afterId)
    const replayedIds = (query.replayed ?? '')
      .split(',')
      .filter(id => /^\d{1,15}$/.test(id))
      .slice(0, PAGE_SIZE)
      .map(Number)
    let listing: { deadLetters: DeliveryRecord[]; next?: number }
    try {
      listing = await admin('GET', `/dead-letters?${params}`)
    } catch (error) {
      if (error instanceof AdminCallError)
        return html(
          reply,
          page({ title: 'Dead letters', tab: 'dead-letters', csrf }, errorMain(error.message, '/ui/dead-letters')),
          error.status
        )
      throw error
    }
    // What became of the letters replayed from here: the delivery log's own entries.
    const replayed: DeliveryRecord[] = []
    for (const id of replayedIds) {
      const record = await store.deliveryById(id)
      if (record) replayed.push(record)
    }
    const notice =
      query.done === 'replayed'
        ? `Replayed ${query.n ?? 0} dead letter(s).`
        : query.done === 'dropped'
          ? `Dropped ${query.n ?? 0} dead letter(s).`
          : undefined
    return html(
      reply,
      page(
        { title: 'Dead letters', tab: 'dead-letters', csrf, live: true },
        deadLettersMain({
          relays: relayNames(),
          relay,
          deadLetters: listing.deadLetters,
          next: listing.next,
          replayed,
          csrf,
          notice,
          error: query.failed
        })
      )
    )
  })

  app.post('/dead-letters/action', { preHandler: action }, async (request, reply) => {
    const form = request.body as URLSearchParams
    const csrf = request.uiSession!.csrf
    const relay = form.get('relay') ?? ''
    const act = form.get('act') ?? ''
    const back = `/ui/dead-letters${relay ? `?${new URLSearchParams({ relay })}` : ''}`
    const [verb, one] = act.split(':') as [string, string | undefined]
    const kind = verb.startsWith('replay') ? 'replay' : verb.startsWith('drop') ? 'drop' : undefined
    const scope = verb.endsWith('-all')
      ? 'all'
      : verb.endsWith('-one')
        ? 'one'
        : verb.endsWith('-selected')
          ? 'selected'
          : undefined
    if (!kind || !scope) return refuse(reply, 'UI_ACTION', `unknown action "${act}"`, back)
    const ids = (scope === 'one' ? [one ?? ''] : form.getAll('id')).filter(id => /^\d{1,15}$/.test(id)).map(Number)
    if (scope !== 'all' && ids.length === 0) return refuse(reply, 'UI_ACTION', 'no dead letter was selected', back)
    if (scope === 'all' && !relay) return refuse(reply, 'UI_ACTION', 'choose a relay first', back)

    if (form.get('confirm') !== 'yes') {
      const what = scope === 'all' ? `every dead letter of ${relay}` : `${ids.length} dead letter(s)`
      return html(
        reply,
        page(
          { title: kind === 'replay' ? 'Replay dead letters?' : 'Drop dead letters?', tab: 'dead-letters', csrf },
          confirmMain({
            question:
              kind === 'replay'
                ? `Send ${what} again? Each goes back to its place in its conversation's order.`
                : `Delete ${what} for good? They will not be delivered.`,
            detail: scope === 'all' ? undefined : `Deliveries ${ids.join(', ')}`,
            action: '/ui/dead-letters/action',
            fields: { act, relay, id: scope === 'selected' ? ids.map(String) : [] },
            csrf,
            confirmLabel: kind === 'replay' ? 'Replay' : 'Drop for good',
            cancelHref: back,
            danger: kind === 'drop'
          })
        )
      )
    }

    let count = 0
    const touched: number[] = []
    const errors: string[] = []
    try {
      if (scope === 'all') {
        if (kind === 'replay') {
          // Noted first, so the page can show them turning into deliveries.
          const listed = await admin<{ deadLetters: DeliveryRecord[] }>(
            'GET',
            `/dead-letters?${new URLSearchParams({ relay, limit: String(PAGE_SIZE) })}`
          )
          touched.push(...listed.deadLetters.map(d => d.id))
          count = (await admin<{ replayed: number }>('POST', '/dead-letters/replay', { relay })).replayed
        } else {
          count = (await admin<{ dropped: number }>('POST', '/dead-letters/drop', { relay })).dropped
        }
      } else {
        for (const id of ids) {
          try {
            if (kind === 'replay') {
              count += (await admin<{ replayed: number }>('POST', `/dead-letters/${id}/replay`)).replayed
              touched.push(id)
            } else count += (await admin<{ dropped: number }>('DELETE', `/dead-letters/${id}`)).dropped
          } catch (error) {
            if (!(error instanceof AdminCallError)) throw error
            errors.push(`${id}: ${error.message}`)
          }
        }
      }
    } catch (error) {
      if (error instanceof AdminCallError) return refuse(reply, 'UI_ACTION', error.message, back)
      throw error
    }
    const params = new URLSearchParams({ done: kind === 'replay' ? 'replayed' : 'dropped', n: String(count) })
    if (relay) params.set('relay', relay)
    if (touched.length > 0) params.set('replayed', touched.slice(0, PAGE_SIZE).join(','))
    if (errors.length > 0) params.set('failed', `Not done: ${errors.join('; ')}`.slice(0, 1000))
    return reply.code(303).redirect(`/ui/dead-letters?${params}`)
  })
}
