import fp from 'fastify-plugin'
import type { Logger } from 'pino'
import type { Clock } from '../clock.js'
import type { LoadedConfig } from '../config/load.js'
import { ConfigInForce } from '../config/live.js'
import type { AttemptEvent } from '../dispatch/dispatcher.js'
import { LoggerSet, scrubSecretsOf, TextScrubber } from '../ops/logging.js'

/** What every part of the app shares; the other plugins are registered after this one. */
export class AppContext {
  readonly live: ConfigInForce
  /** Removes secrets from what the relay stores or shows (delivery errors, admin answers), as from log lines. */
  readonly scrubber = new TextScrubber()
  /** Long-lived child loggers, so that a reloaded log.level reaches them too. */
  readonly loggers = new LoggerSet()
  /** Who hears of every delivery attempt (metrics, the desk); the dispatcher tells each in turn. */
  readonly attemptWatchers: ((event: AttemptEvent) => void)[] = []

  constructor(
    readonly loaded: LoadedConfig,
    readonly logger: Logger,
    readonly clock: Clock
  ) {
    this.live = new ConfigInForce(loaded.config)
    this.learnSecrets(loaded.config)
  }

  /** The folder relative paths of the config are read from (relay plugins, key files). */
  get configDir(): string {
    return this.loaded.configDir
  }

  childLogger(bindings: object): Logger {
    return this.loggers.add(this.logger.child(bindings))
  }

  /** Teaches the logger and the scrubber secrets (the config's at start, a reload's, the handoff key). */
  learnSecrets(config: Parameters<typeof scrubSecretsOf>[1]): void {
    scrubSecretsOf(this.logger, config)
    this.scrubber.learn(config)
  }

  watchAttempts(watcher: (event: AttemptEvent) => void): void {
    this.attemptWatchers.push(watcher)
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    relayContext: AppContext
  }
}

export const contextPlugin = fp(
  async (app, options: { context: AppContext }) => {
    app.decorate('relayContext', options.context)
  },
  { name: 'relay-context' }
)
