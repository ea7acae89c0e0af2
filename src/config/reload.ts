import type { Logger } from 'pino'
import { loadConfigFile, type LoadedConfig } from './load.js'
import type { Config } from './schema.js'
import type { Dispatcher } from '../dispatch/dispatcher.js'
import { prepareRelay } from '../relays/loader.js'
import type { Relay } from '../relays/types.js'
import { logNotReady } from '../ops/readiness.js'
import { planReload, type ReloadChanges } from './reload-plan.js'
import { compileRouter, type Router } from '../intake/router.js'
import type { DeliveryLog } from '../store/types.js'

export interface ReloadResult {
  ok: boolean
  message: string
  changed?: ReloadChanges
}

/** Creates running relays from config entries (the plugin loader, or fakes in tests). */
export type RelayFactory = (entries: Record<string, { type: string }>, configDir: string) => Promise<Map<string, Relay>>

export interface ReloaderOptions {
  /** The config running now; replaced on each successful reload. */
  loaded: LoadedConfig
  /** The runtime's relay map: updated in place, so that everything holding it sees the current relays. */
  relays: Map<string, Relay>
  store: Pick<DeliveryLog, 'pendingByRelay'>
  dispatcher: Dispatcher
  createRelays: RelayFactory
  logger: Logger
  /** Long-lived child loggers (dispatcher, relays) whose level follows `log.level`. */
  loggers?: () => Iterable<Logger>
  /** Called with the new config and router once they are in force. */
  applied(config: Config, router: Router): void
  env?: NodeJS.ProcessEnv
}

const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error))

/**
 * Re-reads the config file and puts the new relays, routes, auth, dispatch policy and log level
 * in force without a restart. Everything is checked and every new relay created before anything
 * is swapped, so a bad config changes nothing. Reloads run one after another.
 */
export function createReloader(options: ReloaderOptions): { reload(): Promise<ReloadResult>; close(): Promise<void> } {
  let current = options.loaded
  let closing = false
  let queue: Promise<unknown> = Promise.resolve()
  const retiring = new Set<Promise<void>>()
  const { logger } = options

  const refuse = (message: string): ReloadResult => {
    logger.error(`config reload refused; the running config stays in force: ${message}`)
    return { ok: false, message }
  }

  /** Closes replaced or removed instances once no delivery runs on them (bounded: a relay that ignores its abort signal must not keep its resources forever). */
  const retire = (instances: [string, Relay][], inFlight: Promise<void>, graceMs: number) => {
    if (instances.length === 0) return
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
      .finally(() => retiring.delete(done))
    retiring.add(done)
  }

  async function apply(): Promise<ReloadResult> {
    try {
      return await attempt()
    } catch (error) {
      return refuse(`unexpected error: ${errorText(error)}`)
    }
  }

  async function attempt(): Promise<ReloadResult> {
    if (closing) return { ok: false, message: 'the relay is shutting down' }
    const file = current.file
    if (!file)
      return refuse(
        'the relay runs the built-in default config, which has no file to re-read; start it with --config <file> to reload later'
      )
    let next: LoadedConfig
    try {
      next = loadConfigFile(file, options.env ?? process.env)
    } catch (error) {
      return refuse(errorText(error))
    }
    const from = current.config
    const to = next.config
    const plan = planReload({
      from,
      to,
      running: options.relays.keys(),
      configDirChanged: current.configDir !== next.configDir
    })
    if (!plan.ok) return refuse(`${plan.needsRestart.join(', ')} changed; these need a restart (nothing was changed)`)

    // Every relay's plugin and options are checked, the unchanged ones too, so that the file as a whole is valid.
    try {
      await Promise.all(Object.entries(to.relays).map(([name, entry]) => prepareRelay(name, entry, next.configDir)))
    } catch (error) {
      return refuse(errorText(error))
    }
    let router: Router
    try {
      router = compileRouter(to.routes, Object.keys(to.relays))
    } catch (error) {
      return refuse(`routes: ${errorText(error)}`)
    }

    const fresh = plan.relays.create
    let created: Map<string, Relay>
    try {
      created = Object.keys(fresh).length === 0 ? new Map() : await options.createRelays(fresh, next.configDir)
    } catch (error) {
      return refuse(errorText(error))
    }

    // Checked as at start: a relay that is not ready yet is logged, and its messages wait for it.
    for (const [name, relay] of created) {
      relay.ready?.().catch((error: unknown) => logNotReady(logger, name, error))
    }

    // Nothing below can fail for a bad config: from here on the new config is put in force.
    const previous = new Map(options.relays)
    const { added, replaced, removed, kept } = plan.relays
    options.relays.clear()
    for (const name of Object.keys(to.relays)) options.relays.set(name, created.get(name) ?? previous.get(name)!)
    for (const [name, relay] of previous) if (name.startsWith('@')) options.relays.set(name, relay)
    const inFlight = options.dispatcher.useRelays(options.relays)
    retire(
      [...replaced, ...removed].map(name => [name, previous.get(name)!]),
      inFlight,
      from.dispatch.deliveryTimeoutMs + 1000
    )

    const { dispatch, logLevel } = plan
    if (dispatch) options.dispatcher.usePolicy(to.dispatch)
    if (logLevel) {
      logger.level = to.log.level
      for (const child of options.loggers?.() ?? []) child.level = to.log.level
    }
    current = next
    options.applied(to, router)

    const changed: ReloadChanges = {
      relays: { added, removed, replaced, kept },
      routes: plan.routes,
      auth: plan.auth,
      dispatch,
      logLevel,
      admin: plan.admin,
      atNextStart: plan.atNextStart
    }
    const parts = [
      added.length > 0 && `added ${added.join(', ')}`,
      replaced.length > 0 && `replaced ${replaced.join(', ')}`,
      removed.length > 0 && `removed ${removed.join(', ')}`,
      changed.routes && 'routes',
      changed.auth && 'auth',
      dispatch && 'dispatch',
      logLevel && `log level ${to.log.level}`,
      changed.admin && 'admin'
    ].filter(Boolean)
    const message =
      parts.length > 0
        ? `config reloaded from ${file}: ${parts.join('; ')}`
        : `config reloaded from ${file}: nothing changed`
    logger.info({ changed }, message)
    if (changed.atNextStart.length > 0) {
      logger.warn(
        { settings: changed.atNextStart },
        `config reload: ${changed.atNextStart.join(', ')} changed but take effect only at the next start`
      )
    }
    if (removed.length > 0) {
      const pending = await options.store.pendingByRelay().catch(() => ({}) as Record<string, number>)
      for (const relay of removed) {
        const count = pending[relay]
        if (count)
          logger.warn(
            { relay, pending: count },
            `${count} message(s) wait for relay "${relay}", which is no longer configured; they are kept and go out if it returns`
          )
      }
    }
    return { ok: true, message, changed }
  }

  return {
    reload() {
      const run = queue.then(apply, apply)
      queue = run.catch(() => {})
      return run
    },
    /** At shutdown: refuses further reloads, and resolves when every replaced instance is closed. */
    async close() {
      closing = true
      await queue
      await Promise.all(retiring)
    }
  }
}
