import type { HeldRelay } from '../dispatch/holds.js'
import type { Relay } from '../relays/types.js'
import type { Maintenance } from '../store/types.js'

export interface Readiness {
  ready: boolean
  store: string
  relays: Record<string, string>
}

export interface ReadinessOptions {
  /** How long a relay's result is reused; relay checks call their platform. Default 30 s. */
  cacheMs?: number
  /** How long one probe waits for the store and for each relay; default 5 s, within a 10 s health check. */
  timeoutMs?: number
  now?: () => number
  /** Resolves after `ms`; tests pass one they control. */
  wait?: (ms: number) => Promise<void>
  /** The relays the dispatcher holds for refused credentials. */
  held?: () => ReadonlyMap<string, HeldRelay>
}

const reason = (error: unknown) => (error instanceof Error ? error.message : String(error)) || 'not ready'

const sleep = (ms: number) =>
  new Promise<void>(resolve => {
    // A probe must not keep the process alive.
    setTimeout(resolve, ms).unref()
  })

/**
 * Answers "can this replica do its work": the store answers, every relay passed its own check,
 * and none is held. Relay checks call their platform, so a result is reused for `cacheMs` rather
 * than asked per probe; and each is waited for at most `timeoutMs`, so that one unreachable
 * platform cannot make the probe itself time out. A check still running goes on, and its result
 * serves the probes after it.
 */
export function readinessCheck(
  store: Pick<Maintenance, 'ping'>,
  relays: ReadonlyMap<string, Relay>,
  options: ReadinessOptions = {}
) {
  const { cacheMs = 30_000, timeoutMs = 5_000, now = () => Date.now(), wait = sleep, held } = options
  const seconds = `${Math.round(timeoutMs / 100) / 10} s`
  const within = (check: Promise<string>, late: string) => Promise.race([check, wait(timeoutMs).then(() => late)])
  // Keyed by instance, not name: a relay replaced by a config reload is checked afresh, and a
  // retired instance's result goes with it.
  const relayResults = new WeakMap<Relay, { at: number; result: Promise<string> }>()
  const checkRelay = (relay: Relay): Promise<string> => {
    const cached = relayResults.get(relay)
    if (cached && now() - cached.at < cacheMs) return cached.result
    // Called inside a promise, so that a relay throwing at once is reported like one that rejects.
    const result = Promise.resolve()
      .then(() => relay.ready?.())
      .then(() => 'ok', reason)
    relayResults.set(relay, { at: now(), result })
    return result
  }
  return async (): Promise<Readiness> => {
    const holds = held?.() ?? new Map<string, HeldRelay>()
    const [storeState, ...entries] = await Promise.all([
      within(
        store.ping().then(() => 'ok', reason),
        `the store did not answer within ${seconds}`
      ),
      ...[...relays].map(async ([name, relay]) => {
        const hold = holds.get(name)
        if (hold) return [name, `held since ${new Date(hold.since).toISOString()}: ${hold.reason}`] as const
        const late = `relay "${name}" did not answer its readiness check within ${seconds}: check that its platform (apiUrl) is reachable from here`
        return [name, await within(checkRelay(relay), late)] as const
      })
    ])
    return {
      ready: storeState === 'ok' && entries.every(([, r]) => r === 'ok'),
      store: storeState,
      relays: Object.fromEntries(entries)
    }
  }
}

/**
 * Says in one line that a relay is not ready, and why: the relay's message names the cause and
 * what to do. The error itself, stack and causes, goes to debug, for whoever needs the detail.
 */
export function logNotReady(
  logger: { error(obj: object, msg: string): void; debug(obj: object, msg: string): void },
  relay: string,
  error: unknown
): void {
  logger.error(
    { relay },
    `relay "${relay}" is not ready: ${reason(error)}; its messages are kept and retried, and those still failing after dispatch.maxAttempts attempts are dead-lettered (replay them once it is fixed)`
  )
  logger.debug({ relay, err: error }, `relay "${relay}" readiness check failed`)
}
