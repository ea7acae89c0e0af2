import fp from 'fastify-plugin'
import type { Logger } from 'pino'
import type { ConfigInForce } from '../config/live.js'
import { loadConfigFile, type LoadedConfig } from '../config/load.js'
import { planReload, type ReloadChanges, type ReloadPlan, type ReloadResult } from '../config/reload-plan.js'
import type { Dispatcher } from '../dispatch/dispatcher.js'
import { compileRouter } from '../intake/router.js'
import { logNotReady } from '../ops/readiness.js'
import { prepareRelay } from '../relays/loader.js'
import type { Relay } from '../relays/types.js'
import type { DeliveryLog } from '../store/types.js'
import type { RelayFactory } from './relays.js'

export interface ReloaderOptions {
  /** The config running now; replaced on each successful reload. */
  loaded: LoadedConfig
  /** The config in force, which a successful reload replaces (its listeners recompile what they derive from it). */
  live: ConfigInForce
  /** The runtime's relay map: updated in place, so that everything holding it sees the current relays. */
  relays: Map<string, Relay>
  store: Pick<DeliveryLog, 'pendingByRelay'>
  dispatcher: Pick<Dispatcher, 'useRelays' | 'usePolicy'>
  createRelays: RelayFactory
  logger: Logger
  /** Long-lived child loggers (dispatcher, relays) whose level follows `log.level`. */
  loggers?: () => Iterable<Logger>
  /** Called with a new config before it is put in force, so that its secrets are scrubbed from then on. */
  learnSecrets?(config: LoadedConfig['config']): void
  env?: NodeJS.ProcessEnv
}

type Applicable = Extract<ReloadPlan, { ok: true }>

/** A reload that passed every check: nothing below can fail for a bad config. */
interface Checked {
  next: LoadedConfig
  plan: Applicable
  created: Map<string, Relay>
}

const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error))

/** Runs `step`, or turns what it throws into the reason a reload is refused. */
async function orRefusal<T>(step: () => T | Promise<T>, prefix = ''): Promise<T | { refused: string }> {
  try {
    return await step()
  } catch (error) {
    return { refused: `${prefix}${errorText(error)}` }
  }
}

const refused = (value: unknown): value is { refused: string } =>
  typeof value === 'object' && value !== null && 'refused' in value

/**
 * Re-reads the config file and puts the new relays, routes, auth, dispatch policy and log level
 * in force without a restart. Everything is checked and every new relay created before anything
 * is swapped, so a bad config changes nothing. Reloads run one after another.
 */
export class Reloader {
  #current: LoadedConfig
  #closing = false
  #queue: Promise<unknown> = Promise.resolve()
  readonly #retiring = new Set<Promise<void>>()

  constructor(private readonly options: ReloaderOptions) {
    this.#current = options.loaded
  }

  reload(): Promise<ReloadResult> {
    const run = this.#queue.then(this.#apply, this.#apply)
    this.#queue = run.catch(() => {})
    return run
  }

  /** At shutdown: refuses further reloads, and resolves when every replaced instance is closed. */
  async close(): Promise<void> {
    this.#closing = true
    await this.#queue
    await Promise.all(this.#retiring)
  }

  readonly #apply = async (): Promise<ReloadResult> => {
    try {
      if (this.#closing) return { ok: false, message: 'the relay is shutting down' }
      const checked = await this.#check()
      return refused(checked) ? this.#refuse(checked.refused) : await this.#putInForce(checked)
    } catch (error) {
      return this.#refuse(`unexpected error: ${errorText(error)}`)
    }
  }

  #refuse(message: string): ReloadResult {
    this.options.logger.error(`config reload refused; the running config stays in force: ${message}`)
    return { ok: false, message }
  }

  /** Reads the file, plans the change, and creates the new relays: the half of a reload that may refuse. */
  async #check(): Promise<Checked | { refused: string }> {
    const file = this.#current.file
    if (!file)
      return {
        refused:
          'the relay runs the built-in default config, which has no file to re-read; start it with --config <file> to reload later'
      }
    const next = await orRefusal(() => loadConfigFile(file, this.options.env ?? process.env))
    if (refused(next)) return next
    const to = next.config
    const plan = planReload({
      from: this.#current.config,
      to,
      running: this.options.relays.keys(),
      configDirChanged: this.#current.configDir !== next.configDir
    })
    if (!plan.ok)
      return { refused: `${plan.needsRestart.join(', ')} changed; these need a restart (nothing was changed)` }
    // Every relay's plugin and options are checked, the unchanged ones too, so that the file as a whole is valid.
    const prepared = await orRefusal(() =>
      Promise.all(Object.entries(to.relays).map(([name, entry]) => prepareRelay(name, entry, next.configDir)))
    )
    if (refused(prepared)) return prepared
    const routes = await orRefusal(() => compileRouter(to.routes, Object.keys(to.relays)), 'routes: ')
    if (refused(routes)) return routes
    const fresh = plan.relays.create
    const created = await orRefusal(() =>
      Object.keys(fresh).length === 0 ? new Map<string, Relay>() : this.options.createRelays(fresh, next.configDir)
    )
    if (refused(created)) return created
    return { next, plan, created }
  }

  /** The half of a reload that cannot fail for a bad config: swaps relays, policy, log level and config. */
  async #putInForce({ next, plan, created }: Checked): Promise<ReloadResult> {
    const { logger } = this.options
    const from = this.#current.config
    const to = next.config
    // Checked as at start: a relay that is not ready yet is logged, and its messages wait for it.
    for (const [name, relay] of created) {
      relay.ready?.().catch((error: unknown) => logNotReady(logger, name, error))
    }
    this.#swapRelays(plan, created, to, from.dispatch.deliveryTimeoutMs + 1000)
    if (plan.dispatch) this.options.dispatcher.usePolicy(to.dispatch)
    if (plan.logLevel) {
      logger.level = to.log.level
      for (const child of this.options.loggers?.() ?? []) child.level = to.log.level
    }
    this.#current = next
    this.options.learnSecrets?.(to)
    this.options.live.replace(to)

    const { added, removed, replaced, kept } = plan.relays
    const { routes, auth, dispatch, logLevel, admin, atNextStart } = plan
    const changed: ReloadChanges = {
      relays: { added, removed, replaced, kept },
      ...{ routes, auth, dispatch, logLevel, admin, atNextStart }
    }
    const message = describe(changed, next.file!, to.log.level)
    logger.info({ changed }, message)
    if (changed.atNextStart.length > 0) {
      logger.warn(
        { settings: changed.atNextStart },
        `config reload: ${changed.atNextStart.join(', ')} changed but take effect only at the next start`
      )
    }
    await this.#warnOfRemoved(removed)
    return { ok: true, message, changed }
  }

  /** Puts the new relay set in the shared map, and retires the instances it no longer holds. */
  #swapRelays(plan: Applicable, created: Map<string, Relay>, to: LoadedConfig['config'], graceMs: number): void {
    const map = this.options.relays
    const previous = new Map(map)
    map.clear()
    for (const name of Object.keys(to.relays)) map.set(name, created.get(name) ?? previous.get(name)!)
    for (const [name, relay] of previous) if (name.startsWith('@')) map.set(name, relay)
    const inFlight = this.options.dispatcher.useRelays(map)
    const { replaced, removed } = plan.relays
    this.#retire(
      [...replaced, ...removed].map(name => [name, previous.get(name)!]),
      inFlight,
      graceMs
    )
  }

  /** Closes replaced or removed instances once no delivery runs on them (bounded: a relay that ignores its abort signal must not keep its resources forever). */
  #retire(instances: [string, Relay][], inFlight: Promise<void>, graceMs: number): void {
    if (instances.length === 0) return
    const { logger } = this.options
    let timer: NodeJS.Timeout | undefined
    const done = Promise.race([
      inFlight,
      new Promise<void>(resolve => {
        timer = setTimeout(resolve, graceMs)
      })
    ])
      .then(async () => {
        clearTimeout(timer)
        for (const [name, relay] of instances) {
          await relay
            .close?.()
            .catch((error: unknown) =>
              logger.error({ relay: name, err: error }, `old instance of relay "${name}" did not close cleanly`)
            )
        }
      })
      .finally(() => this.#retiring.delete(done))
    this.#retiring.add(done)
  }

  async #warnOfRemoved(removed: string[]): Promise<void> {
    if (removed.length === 0) return
    const pending = await this.options.store.pendingByRelay().catch(() => ({}) as Record<string, number>)
    for (const relay of removed) {
      const count = pending[relay]
      if (count)
        this.options.logger.warn(
          { relay, pending: count },
          `${count} message(s) wait for relay "${relay}", which is no longer configured; they are kept and go out if it returns`
        )
    }
  }
}

/** The one line a reload logs and answers with. */
function describe(changed: ReloadChanges, file: string, logLevel: string): string {
  const { added, replaced, removed } = changed.relays
  const parts = [
    added.length > 0 && `added ${added.join(', ')}`,
    replaced.length > 0 && `replaced ${replaced.join(', ')}`,
    removed.length > 0 && `removed ${removed.join(', ')}`,
    changed.routes && 'routes',
    changed.auth && 'auth',
    changed.dispatch && 'dispatch',
    changed.logLevel && `log level ${logLevel}`,
    changed.admin && 'admin'
  ].filter(Boolean)
  return parts.length > 0
    ? `config reloaded from ${file}: ${parts.join('; ')}`
    : `config reloaded from ${file}: nothing changed`
}

declare module 'fastify' {
  interface FastifyInstance {
    reloader: Reloader
  }
}

/**
 * The config reload (POST /admin/reload, SIGHUP). Registered before the dispatcher, so that at
 * shutdown it closes after delivery stops and before the relays it retires close.
 */
export const reloadPlugin = fp(
  async app => {
    const context = app.relayContext
    const reloader = new Reloader({
      loaded: context.loaded,
      live: context.live,
      relays: app.relays,
      store: app.store,
      // Read when a reload is applied, by which time the dispatcher (registered after this) exists.
      dispatcher: {
        useRelays: relays => app.dispatcher.useRelays(relays),
        usePolicy: policy => app.dispatcher.usePolicy(policy)
      },
      createRelays: app.createRelays,
      logger: context.logger,
      loggers: () => context.loggers.live(),
      learnSecrets: config => context.learnSecrets(config)
    })
    app.decorate('reloader', reloader)
    app.addHook('onClose', () => reloader.close())
  },
  { name: 'relay-reload', dependencies: ['relay-context', 'relay-store', 'relay-relays'] }
)
