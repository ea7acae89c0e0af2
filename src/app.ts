import Fastify, { LogController, type FastifyInstance } from 'fastify'
import secureJson from 'secure-json-parse'
import type { Logger } from 'pino'
import type { LoadedConfig } from './config/load.js'
import type { Config } from './config/schema.js'
import { systemClock, type Clock } from './clock.js'
import { adminRoutes } from './admin/routes.js'
import { Dispatcher } from './dispatch/dispatcher.js'
import { LagWatch } from './dispatch/lag.js'
import { ConfigError, RelayHttpError } from './errors.js'
import { useErrorEnvelope } from './http/errors.js'
import { frameworkErrors, serverOptions, useHttpLimits } from './http/limits.js'
import { intakeRoutes } from './intake/routes.js'
import { webhookDocs } from './intake/schemas.js'
import { Desk, gptbotsRelay } from './handoff/desk.js'
import { humanApi } from './handoff/gptbots-client.js'
import { GptbotsApis } from './gptbots/api.js'
import { createGptbotsRelay } from './handoff/gptbots-relay.js'
import { handoffRoutes } from './handoff/routes.js'
import { inboundRoutes } from './relays/inbound.js'
import { createLogger, LoggerSet, scrubSecretsOf, TextScrubber } from './ops/logging.js'
import { createMetrics, useMetrics } from './ops/metrics.js'
import { useOpenApi } from './http/openapi.js'
import { loadRelays } from './relays/loader.js'
import type { Relay } from './relays/types.js'
import { createReloader, type RelayFactory, type ReloadResult } from './config/reload.js'
import { compileRouter } from './intake/router.js'
import { logNotReady, readinessCheck } from './ops/readiness.js'
import { type UiOptions, uiRoutes } from './ui/routes.js'
import { startRetention, type Retention } from './store/retention.js'
import { openStore } from './store/index.js'
import type { Store } from './store/types.js'

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

export interface RelayRuntime {
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
 * The whole relay as one Fastify instance: intake, store, relays and dispatcher, closed in that
 * order (stop taking, finish delivering, close relays, close the store). The caller listens.
 */
export async function buildApp(options: BuildOptions): Promise<FastifyInstance> {
  const { config, configDir } = options.loaded
  const logger = options.logger ?? createLogger(config)
  const clock = options.clock ?? systemClock
  const app = Fastify({
    loggerInstance: logger,
    bodyLimit: config.server.bodyLimit,
    // One line per accepted message and per delivery says more than a line per request.
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    ...serverOptions({
      headersTimeoutMs: config.server.headersTimeoutMs,
      requestTimeoutMs: config.server.requestTimeoutMs,
      lingerMs: 1000
    }),
    frameworkErrors
  }) as unknown as FastifyInstance

  useHttpLimits(app)
  useErrorEnvelope(app, config.server.bodyLimit)
  useStrictJson(app)
  await useOpenApi(app, webhookDocs)

  const store = options.store ?? (await openStore(config.store))
  // Delivery errors are stored and shown by the admin API: they are scrubbed like log lines.
  const scrubber = new TextScrubber()
  scrubber.learn(config)
  // GPTBots' API, one client per source, shared by the handoff desk and backfill.
  const gptbots = new GptbotsApis({ config, configDir, env: options.env, clock })
  // The handoff desk and its GPTBots relay exist only when the config has a handoff section, and need the key.
  const handoffApi = config.handoff ? gptbots.for('default') : undefined
  if (handoffApi?.keyProblem) {
    await store.close()
    throw new ConfigError(`handoff: ${handoffApi.keyProblem}`)
  }
  // Keys are secrets wherever they would show: log lines, stored errors, admin answers.
  const apiKeys = { relays: { [gptbotsRelay]: { type: 'gptbots', apiKey: gptbots.allKeys() } } }
  scrubber.learn(apiKeys)
  scrubSecretsOf(logger, apiKeys)
  const desk = config.handoff
    ? new Desk({
        store,
        clock,
        deskRelays: () => runtime.config.handoff?.relays ?? [],
        noteMarker: () => runtime.config.handoff?.noteMarker ?? '//',
        holdingReply: () => {
          const holding = runtime.config.handoff?.holdingReply
          return holding && { text: holding.text, afterMs: holding.afterSeconds * 1000 }
        },
        accepted: () => dispatcher.notify()
      })
    : undefined
  // Which relays are the desk, as the config in force says (a reload updates it).
  let deskConfig = config
  // Long-lived loggers, so that a reloaded log.level reaches them too.
  const loggers = new LoggerSet()
  const childLogger = (bindings: object) => loggers.add(logger.child(bindings))
  const createRelays: RelayFactory =
    options.createRelays ??
    ((entries, dir) => {
      // A reload may bring new relay secrets: the logger must know them before the relays can log.
      scrubSecretsOf(logger, { relays: entries })
      scrubber.learn({ relays: entries })
      return loadRelays(entries, dir, childLogger, clock, name =>
        desk && deskConfig.handoff?.relays.includes(name) ? { desk: desk.forRelay(name) } : {}
      )
    })
  let relays: Map<string, Relay>
  try {
    relays = options.relays ?? (await createRelays(config.relays, configDir))
  } catch (error) {
    await store.close()
    throw error
  }
  if (handoffApi) {
    relays.set(
      gptbotsRelay,
      createGptbotsRelay(humanApi(handoffApi), message =>
        desk ? desk.receipt(message, 'delivered') : Promise.resolve()
      )
    )
  }
  const metrics = config.metrics.enabled
    ? createMetrics({
        store,
        relays,
        clock,
        logger: logger.child({ component: 'metrics' }),
        // Read at scrape time, when the dispatcher below exists.
        held: (): ReadonlyMap<string, unknown> => dispatcher.heldRelays()
      })
    : undefined
  if (metrics) useMetrics(app, metrics)
  const dispatcher: Dispatcher = new Dispatcher({
    ...config.dispatch,
    store,
    relays,
    clock,
    random: options.random,
    holdRecheckMs: options.holdRecheckMs,
    logger: childLogger({ component: 'dispatcher' }),
    onAttempt: event => {
      metrics?.attempt(event)
      // Tells the desk a reply came from that it could not reach the user (marked in its thread);
      // a delivered reply's receipt is stored by the @gptbots relay itself, before it counts.
      if (desk && event.relay === gptbotsRelay && event.outcome.status === 'dead') {
        desk
          .receipt(event.delivery.message, 'dead', event.outcome.error)
          .catch((err: unknown) => logger.error({ err }, 'could not store the receipt of a handoff reply'))
      }
    },
    scrub: scrubber.text
  })
  // Warns once when a relay falls behind by more than dispatch.lagWarnMs, and when it catches up (#15).
  const lagWatch = new LagWatch({
    store,
    relays: () => relays.keys(),
    thresholdMs: () => runtime.config.dispatch.lagWarnMs,
    clock,
    logger: childLogger({ component: 'lag' })
  })
  // Built-in relays (`@gptbots`) take only what the app sends them, never routed webhooks.
  let router = compileRouter(
    config.routes,
    [...relays.keys()].filter(name => !name.startsWith('@'))
  )
  const runtime: RelayRuntime = { config, store, relays, dispatcher, scrubber, ...(desk ? { desk } : {}) }
  const reloader = createReloader({
    loaded: options.loaded,
    relays,
    store,
    dispatcher,
    createRelays,
    logger,
    loggers: () => loggers.live(),
    applied(next, nextRouter) {
      scrubSecretsOf(logger, next)
      scrubber.learn(next)
      runtime.config = next
      deskConfig = next
      router = nextRouter
    }
  })
  runtime.reload = reloader.reload
  app.decorate('relay', runtime)

  const pending = await store.pendingByRelay()
  for (const [relay, count] of Object.entries(pending)) {
    if (!relays.has(relay))
      logger.warn(
        { relay, pending: count },
        `${count} message(s) wait for relay "${relay}", which is no longer configured; they are kept and go out if it returns`
      )
  }

  app.get(
    '/healthz',
    { schema: { response: { 200: { type: 'object', properties: { status: { type: 'string' } } } } } },
    async () => ({ status: 'ok' })
  )
  const readiness = readinessCheck(store, relays, { ...options.readiness, held: () => dispatcher.heldRelays() })
  app.get('/readyz', async (_request, reply) => {
    const report = await readiness()
    return reply
      .code(report.ready ? 200 : 503)
      .send({ status: report.ready ? 'ready' : 'not ready', store: report.store, relays: report.relays })
  })
  await app.register(intakeRoutes, {
    config,
    store,
    clock,
    router: message => router(message),
    liveConfig: () => runtime.config,
    accepted: () => dispatcher.notify(),
    observe: metrics?.intake
  })
  if (desk) await app.register(handoffRoutes, { desk, liveConfig: () => runtime.config })
  await app.register(inboundRoutes, { relays: () => runtime.relays })
  await app.register(adminRoutes, { prefix: '/admin', clock })
  await app.register(uiRoutes, { prefix: '/ui', clock, registry: metrics?.registry, readiness, ...options.ui })

  // Pruning runs beside the dispatcher, and like it only when delivery is not left to a test.
  let retention: Retention | undefined
  // The desk's holding replies are due by the clock; checked each second (a cheap read when none wait).
  let holdingTimer: NodeJS.Timeout | undefined
  app.addHook('onReady', async () => {
    if (config.auth.allowUnauthenticated) {
      logger.warn(
        'auth.allowUnauthenticated is true: anyone who can reach this relay can post messages to sources without tokens'
      )
    }
    for (const [name, relay] of relays) {
      relay.ready?.().catch((error: unknown) => logNotReady(logger, name, error))
    }
    if (options.dispatch !== 'manual') {
      dispatcher.start()
      lagWatch.start()
      if (desk)
        holdingTimer = setInterval(
          () => desk.tick().catch((err: unknown) => logger.error({ err }, 'could not check the holding replies')),
          1000
        ).unref()
      retention = startRetention({
        store,
        retention: config.retention,
        clock,
        logger: logger.child({ component: 'retention' })
      })
    }
  })
  app.addHook('onClose', async () => {
    clearInterval(holdingTimer)
    await retention?.stop()
    await lagWatch.stop()
    await dispatcher.stop(config.server.shutdownTimeoutMs)
    await reloader.close()
    for (const relay of relays.values())
      await relay.close?.().catch(error => logger.error({ err: error }, 'relay did not close cleanly'))
    await store.close()
  })
  return app
}
