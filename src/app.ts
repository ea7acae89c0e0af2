import { randomUUID } from 'node:crypto'
import Fastify, { LogController, type FastifyInstance } from 'fastify'
import secureJson from 'secure-json-parse'
import type { Logger } from 'pino'
import type { LoadedConfig } from './config/load.js'
import type { Config } from './config/schema.js'
import { systemClock, type Clock } from './clock.js'
import { AppContext, contextPlugin } from './app/context.js'
import { backfillPlugin } from './app/backfill.js'
import { dashboardPlugin } from './app/dashboard.js'
import { deskPlugin } from './app/desk.js'
import { dispatcherPlugin } from './app/dispatcher.js'
import { gptbotsPlugin } from './app/gptbots.js'
import { metricsPlugin } from './app/metrics.js'
import { type RelayFactory, relaysPlugin } from './app/relays.js'
import { reloadPlugin } from './app/reload.js'
import type { ReloadResult } from './config/reload-plan.js'
import { storePlugin } from './app/store.js'
import type { Dispatcher } from './dispatch/dispatcher.js'
import { RelayHttpError } from './errors.js'
import type { Desk } from './handoff/desk.js'
import { handoffRoutes } from './handoff/routes.js'
import { useErrorEnvelope } from './http/errors.js'
import { frameworkErrors, serverOptions, useHttpLimits } from './http/limits.js'
import { useOpenApi } from './http/openapi.js'
import { compileRouter } from './intake/router.js'
import { intakeRoutes } from './intake/routes.js'
import { webhookDocs } from './intake/schemas.js'
import { createLogger, type TextScrubber } from './ops/logging.js'
import { readinessCheck } from './ops/readiness.js'
import { inboundRoutes } from './relays/inbound.js'
import type { Relay } from './relays/types.js'
import type { Store } from './store/types.js'
import type { UiOptions } from './ui/routes.js'

export interface BuildOptions {
  loaded: LoadedConfig
  /** Use this store instead of opening the configured one (tests). */
  store?: Store
  /** Use these relays instead of loading the configured ones (tests). */
  relays?: Map<string, Relay>
  /** Creates relays from config entries instead of loading their plugins, at start and on reload (tests). */
  createRelays?: RelayFactory
  clock?: Clock
  logger?: Logger
  /** `background` delivers on its own; `manual` leaves delivery to `dispatcher.drain()` (tests). */
  dispatch?: 'background' | 'manual'
  /** How long /readyz waits for each check (default 5 s), and how it waits (tests). */
  readiness?: { timeoutMs?: number; wait?: (ms: number) => Promise<void> }
  /** How often a relay held for refused credentials tries again (default 60 s). */
  holdRecheckMs?: number
  random?: () => number
  /** Dashboard timings and limits (tests). */
  ui?: Omit<UiOptions, 'clock' | 'registry' | 'readiness'>
  /** Where the GPTBots API key of the handoff is read from (default process.env). */
  env?: NodeJS.ProcessEnv
}

/** The running relay as the admin API, the dashboard and tests see it. */
export interface RelayRuntime {
  /** The config in force now; setting it puts another in force, as a reload does. */
  config: Config
  store: Store
  relays: Map<string, Relay>
  dispatcher: Dispatcher
  /** Removes secrets from what the relay stores or shows (delivery errors, admin answers), as from log lines. */
  scrubber: TextScrubber
  /** The handoff desk, when the config has a handoff section. */
  desk?: Desk
  /** Set when the relay can re-read its config file while running (POST /admin/reload). */
  reload?: () => Promise<ReloadResult>
}

declare module 'fastify' {
  interface FastifyInstance {
    relay: RelayRuntime
  }
}

export { createLogger } from './ops/logging.js'

/** Parses JSON strictly: bytes must be UTF-8, and `__proto__`/`constructor.prototype` keys are refused. */
function useStrictJson(app: FastifyInstance): void {
  const utf8 = new TextDecoder('utf-8', { fatal: true })
  // Only JSON is taken: every other content type (text/plain included) is a 415.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body, done) => {
    const bytes = body as Buffer
    if (bytes.length === 0) return done(new RelayHttpError('BODY_EMPTY'), undefined)
    let text: string
    try {
      text = utf8.decode(bytes)
    } catch {
      return done(new RelayHttpError('BODY_BAD_ENCODING'), undefined)
    }
    try {
      done(null, secureJson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' }))
    } catch (error) {
      const message = (error as Error).message
      const reason =
        error instanceof RangeError
          ? 'the body is nested too deeply'
          : /forbidden (prototype|constructor)/i.test(message)
            ? 'the body uses a forbidden key (__proto__ or constructor.prototype)'
            : `the body is not valid JSON: ${message}`
      done(new RelayHttpError('BODY_NOT_JSON', reason), undefined)
    }
  })
}

/**
 * The whole relay as one Fastify instance. Its parts are plugins registered in the order they
 * depend on each other, so they start in that order and close in the reverse one: the intake
 * stops taking, delivery finishes, the relays close, the store closes last. The caller listens.
 */
export async function buildApp(options: BuildOptions): Promise<FastifyInstance> {
  const { config } = options.loaded
  const logger = options.logger ?? createLogger(config)
  const app = Fastify({
    loggerInstance: logger,
    bodyLimit: config.server.bodyLimit,
    // One line per accepted message and per delivery says more than a line per request.
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    // Each part bounds its own waits: a PostgreSQL store may take 10 s to connect, then wait for a migration.
    pluginTimeout: 0,
    ...serverOptions({
      headersTimeoutMs: config.server.headersTimeoutMs,
      requestTimeoutMs: config.server.requestTimeoutMs,
      lingerMs: 1000
    }),
    frameworkErrors
  }) as unknown as FastifyInstance
  try {
    await registerParts(app, options, logger)
    await registerRoutes(app, options)
  } catch (error) {
    // Whatever had opened (the store, relays) closes before the failure is told.
    await app.close().catch(() => {})
    throw error
  }
  return app
}

async function registerParts(app: FastifyInstance, options: BuildOptions, logger: Logger): Promise<void> {
  useHttpLimits(app)
  useErrorEnvelope(app, options.loaded.config.server.bodyLimit)
  useStrictJson(app)
  await useOpenApi(app, webhookDocs)

  const background = options.dispatch !== 'manual'
  const context = new AppContext(options.loaded, logger, options.clock ?? systemClock)
  await app.register(contextPlugin, { context })
  await app.register(storePlugin, { store: options.store, background })
  await app.register(gptbotsPlugin, { env: options.env })
  await app.register(deskPlugin, { background })
  await app.register(relaysPlugin, { relays: options.relays, createRelays: options.createRelays })
  await app.register(metricsPlugin)
  await app.register(reloadPlugin)
  await app.register(dispatcherPlugin, { background, random: options.random, holdRecheckMs: options.holdRecheckMs })

  const runtime: RelayRuntime = {
    get config() {
      return context.live.current
    },
    set config(next) {
      context.live.replace(next)
    },
    store: app.store,
    relays: app.relays,
    dispatcher: app.dispatcher,
    scrubber: context.scrubber,
    ...(app.desk ? { desk: app.desk } : {}),
    reload: () => app.reloader.reload()
  }
  app.decorate('relay', runtime)
}

async function registerRoutes(app: FastifyInstance, options: BuildOptions): Promise<void> {
  const context = app.relayContext
  const config = context.live.current
  // A fresh id per process: `doctor` tells by it that the public address reaches this very relay.
  const instance = randomUUID()
  app.get(
    '/healthz',
    {
      schema: {
        response: { 200: { type: 'object', properties: { status: { type: 'string' }, instance: { type: 'string' } } } }
      }
    },
    async () => ({ status: 'ok', instance })
  )
  const readiness = readinessCheck(app.store, app.relays, {
    ...options.readiness,
    held: () => app.dispatcher.heldRelays()
  })
  app.get('/readyz', async (_request, reply) => {
    const report = await readiness()
    return reply
      .code(report.ready ? 200 : 503)
      .send({ status: report.ready ? 'ready' : 'not ready', store: report.store, relays: report.relays })
  })

  // Built-in relays (`@gptbots`) take only what the app sends them, never routed webhooks.
  const routeTo = (next: Config, relays: Iterable<string>) =>
    compileRouter(
      next.routes,
      [...relays].filter(name => !name.startsWith('@'))
    )
  let router = routeTo(config, app.relays.keys())
  context.live.onChange(next => {
    router = routeTo(next, Object.keys(next.relays))
  })
  await app.register(backfillPlugin, { router: message => router(message), background: options.dispatch !== 'manual' })
  await app.register(intakeRoutes, {
    config,
    store: app.store,
    clock: context.clock,
    router: message => router(message),
    liveConfig: () => context.live.current,
    accepted: () => app.dispatcher.notify(),
    observe: app.metrics?.intake
  })
  if (config.auth.allowUnauthenticated) {
    app.addHook('onReady', async () => {
      context.logger.warn(
        'auth.allowUnauthenticated is true: anyone who can reach this relay can post messages to sources without tokens'
      )
    })
  }
  if (app.desk) await app.register(handoffRoutes, { desk: app.desk, liveConfig: () => context.live.current })
  await app.register(inboundRoutes, { relays: () => app.relays })
  await app.register(dashboardPlugin, { readiness, ui: options.ui })
}
