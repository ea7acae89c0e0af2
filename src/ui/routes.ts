import cookie from '@fastify/cookie'
import type { FastifyInstance } from 'fastify'
import { AdminService } from '../admin/service.js'
import type { Clock } from '../clock.js'
import { Errors, RelayHttpError } from '../errors.js'
import type { Readiness } from '../ops/readiness.js'
import { css, icon, js } from './assets.js'
import { uiContext, type UiContext } from './context.js'
import { LiveHub, systemTimers, type Timers } from './live.js'
import { conversationPage } from './pages/conversation.js'
import { conversationsPage } from './pages/conversations.js'
import { deadLettersPage } from './pages/dead-letters.js'
import { overviewPage } from './pages/overview.js'
import { DeliveredPerMinute } from './rates.js'
import { type Session, Sessions, storeRevocations } from './sessions.js'
import { SESSION_COOKIE, signInPages } from './sign-in.js'

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

declare module 'fastify' {
  interface FastifyRequest {
    uiSession?: Session
  }
}

/** The shared live poll: one read of what the pages show per tick, for every open page. */
function liveHub(app: FastifyInstance, options: UiOptions, sessions: Sessions, timers: Timers): LiveHub {
  // The store's readiness probe writes (SQLite checks that it can), so an open page re-reads
  // readiness every fifth tick (10 s at the default 2 s), not at every one.
  let ticks = 0
  let ready: Promise<Readiness> | undefined
  const readinessForLive = () => {
    if (ready === undefined || ticks % 5 === 0) ready = options.readiness()
    ticks++
    return ready
  }
  return new LiveHub({
    intervalMs: options.liveIntervalMs ?? 2000,
    heartbeatTicks: 10,
    maxClients: options.maxLiveClients ?? 100,
    maxPerSession: options.maxLivePerSession ?? 8,
    timers,
    onError: error => app.log.warn({ err: error }, 'dashboard: the live poll could not read the store'),
    snapshot: async () => {
      // Streams of sessions that expired or whose token a reload changed end here.
      sessions.sweep(app.relay.config.admin.token)
      const [backlog, latest, ready] = await Promise.all([
        app.relay.store.backlog(),
        app.relay.store.listConversations({ limit: 1 }),
        readinessForLive()
      ])
      return JSON.stringify([backlog, latest, ready])
    }
  })
}

/** GET /ui/events: the page's live stream, within the hub's limits. */
function liveEvents(app: FastifyInstance, ui: UiContext, live: LiveHub): void {
  app.get('/events', async (request, reply) => {
    if (!request.uiSession) return ui.refuse(reply, 'UI_SESSION', Errors.UI_SESSION.message, '/ui/login')
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
}

function assets(app: FastifyInstance): void {
  app.get('/assets/app.css', async (_request, reply) =>
    reply.header('cache-control', 'no-cache').type('text/css; charset=utf-8').send(css)
  )
  app.get('/assets/icon.svg', async (_request, reply) =>
    reply.header('cache-control', 'public, max-age=86400').type('image/svg+xml').send(icon)
  )
  app.get('/assets/app.js', async (_request, reply) =>
    reply.header('cache-control', 'no-cache').type('text/javascript; charset=utf-8').send(js)
  )
}

/**
 * The delivery dashboard under /ui: server-rendered pages, a static script that keeps them live
 * over server-sent events, and forms for the admin actions. Disabled (ADMIN_DISABLED) without
 * admin.token; signing in takes that token once and hands out a session cookie. Every read and
 * action goes through the admin service that the admin API calls, with the same checks.
 */
export async function uiRoutes(app: FastifyInstance, options: UiOptions): Promise<void> {
  const { clock } = options
  const timers = options.timers ?? systemTimers
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
  const live = liveHub(app, options, sessions, timers)
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

  app.addHook('onRequest', async (request, reply) => {
    const current = app.relay.config.admin.token
    if (!current)
      throw new RelayHttpError(
        'ADMIN_DISABLED',
        'the dashboard is disabled: set admin.token in the config to enable it (and the admin API)'
      )
    for (const [name, value] of Object.entries(securityHeaders)) reply.header(name, value)
    request.uiSession = await sessions.get(request.cookies[SESSION_COOKIE], current)
  })

  const ui = uiContext(app, new AdminService(app.relay, clock, app.log))
  assets(app)
  signInPages(app, ui, sessions)
  liveEvents(app, ui, live)
  overviewPage(app, ui, { clock, registry: options.registry, readiness: options.readiness, rates })
  conversationsPage(app, ui)
  conversationPage(app, ui)
  deadLettersPage(app, ui)
}
