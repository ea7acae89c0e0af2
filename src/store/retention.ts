import type { Clock } from '../clock.js'
import type { Maintenance, PruneResult } from './types.js'

/** How long delivered messages are kept, and how often pruning runs (the config's `retention` block). */
export interface RetentionPolicy {
  deliveredHours: number
  intervalMinutes: number
}

export interface RetentionOptions {
  store: Pick<Maintenance, 'prune'>
  retention: RetentionPolicy
  clock: Clock
  logger: {
    info(details: object, message: string): void
    error(details: object, message: string): void
  }
}

export interface Retention {
  /** Prunes now, or joins the run already under way; undefined when retention is off or the run failed. */
  runOnce(): Promise<PruneResult | undefined>
  /** No more runs; waits for one under way, so the store can be closed after. */
  stop(): Promise<void>
}

const hourMs = 3_600_000
const minuteMs = 60_000

/**
 * Keeps the outbox from growing forever: messages delivered everywhere (and their dedupe records)
 * go once they are `deliveredHours` old; pending and dead ones, and relay state, stay. Runs at
 * start and then every `intervalMinutes`; a failed run is logged and the next one tries again.
 */
export function startRetention({ store, retention, clock, logger }: RetentionOptions): Retention {
  const off = retention.deliveredHours <= 0
  let running: Promise<PruneResult | undefined> | undefined
  let stopped = false

  const prune = async (): Promise<PruneResult | undefined> => {
    const before = clock.now() - retention.deliveredHours * hourMs
    try {
      const removed = await store.prune(before)
      if (removed.messages > 0 || removed.deliveries > 0) {
        logger.info(
          { ...removed, before: new Date(before).toISOString() },
          `pruned ${removed.messages} message(s) and ${removed.deliveries} delivery record(s) delivered before ${new Date(before).toISOString()}`
        )
      }
      return removed
    } catch (error) {
      logger.error(
        { err: error },
        `pruning delivered messages failed: ${(error as Error).message}; it is tried again in ${retention.intervalMinutes} minute(s)`
      )
      return undefined
    }
  }

  const runOnce = (): Promise<PruneResult | undefined> => {
    if (off || stopped) return Promise.resolve(undefined)
    running ??= prune().finally(() => {
      running = undefined
    })
    return running
  }

  let timer: NodeJS.Timeout | undefined
  let first: NodeJS.Timeout | undefined
  if (!off) {
    // Unref'd: pruning never keeps the process alive on its own.
    first = setTimeout(() => {
      void runOnce()
    }, 0)
    first.unref()
    timer = setInterval(() => {
      void runOnce()
    }, retention.intervalMinutes * minuteMs)
    timer.unref()
  }

  return {
    runOnce,
    async stop() {
      stopped = true
      clearTimeout(first)
      clearInterval(timer)
      await running
    }
  }
}
