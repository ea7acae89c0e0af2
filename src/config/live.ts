import type { Config } from './schema.js'

/**
 * The config in force. Parts that a reload changes read `current` when they use it, or follow
 * `onChange`; parts read once at start keep the config they were built with.
 */
export interface LiveConfig {
  readonly current: Config
  /** Called with each config a reload puts in force, once `current` is that config. */
  onChange(listener: (next: Config) => void): void
}

/** The one LiveConfig of an app: only the reload replaces its config. */
export class ConfigInForce implements LiveConfig {
  #current: Config
  readonly #listeners: ((next: Config) => void)[] = []

  constructor(config: Config) {
    this.#current = config
  }

  get current(): Config {
    return this.#current
  }

  onChange(listener: (next: Config) => void): void {
    this.#listeners.push(listener)
  }

  replace(next: Config): void {
    this.#current = next
    for (const listener of this.#listeners) listener(next)
  }
}
