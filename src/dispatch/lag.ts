import type { RelayLogger } from '../relays/types.js'
import type { DeliveryLog } from '../store/types.js'
import type { Clock } from '../clock.js'

export interface LagWatchOptions {
  store: Pick<DeliveryLog, 'backlog'>
  /** The configured relays, read at each check (a reload changes them). */
  relays: () => Iterable<string>
  /** dispatch.lagWarnMs, read at each check; 0 turns the warning off. */
  thresholdMs: () => number
  clock: Clock
  logger: RelayLogger
}

/** How often the lag is looked at: a quarter of the threshold, between 1 s and 15 s. */
export const lagCheckEvery = (thresholdMs: number): number => Math.min(15_000, Math.max(1000, thresholdMs / 4))

/**
 * Warns once when a relay's oldest undelivered message has waited longer than the threshold, and
 * says once when it has recovered: when the lag is back to half the threshold or less, so that a
 * lag hovering at the threshold does not fill the log.
 */
export class LagWatch {
  /** The relays warned about, with the lag that was reported. */
  private readonly behind = new Map<string, { since: number }>()
  private timer?: NodeJS.Timeout
  private checking?: Promise<void>

  constructor(private readonly options: LagWatchOptions) {}

  /** Reads the backlog once and logs what changed. A store that cannot be read is logged at debug: metrics and readiness report it. */
  async check(): Promise<void> {
    const { store, clock, logger } = this.options
    const threshold = this.options.thresholdMs()
    let oldest: Record<string, number>
    try {
      oldest = (await store.backlog()).oldestPendingByRelay
    } catch (error) {
      logger.debug({ err: error }, 'lag check: could not read the backlog')
      return
    }
    const now = clock.now()
    const relays = new Set([...this.options.relays(), ...this.behind.keys()])
    for (const relay of relays) {
      const at = oldest[relay]
      const lagMs = at === undefined ? 0 : Math.max(0, now - at)
      const warned = this.behind.get(relay)
      if (!warned && threshold > 0 && lagMs > threshold) {
        this.behind.set(relay, { since: now })
        logger.warn(
          { relay, lagMs, thresholdMs: threshold },
          `relay "${relay}" is behind: its oldest undelivered message has waited ${Math.round(lagMs / 1000)} s (dispatch.lagWarnMs is ${threshold} ms)`
        )
      } else if (warned && (threshold <= 0 || lagMs <= threshold / 2)) {
        this.behind.delete(relay)
        logger.info(
          { relay, lagMs, behindMs: now - warned.since },
          `relay "${relay}" has caught up: its oldest undelivered message has waited ${Math.round(lagMs / 1000)} s`
        )
      }
    }
  }

  /** Checks in the background until stop(). */
  start(): void {
    if (this.timer) return
    const tick = () => {
      this.checking ??= this.check().finally(() => {
        this.checking = undefined
      })
      this.timer = setTimeout(tick, lagCheckEvery(this.options.thresholdMs()))
      this.timer.unref()
    }
    this.timer = setTimeout(tick, lagCheckEvery(this.options.thresholdMs()))
    this.timer.unref()
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer)
    this.timer = undefined
    await this.checking
  }
}
