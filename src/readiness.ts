import type { Relay } from './relays/types.js'
import type { Store } from './store/types.js'

export interface Readiness {
  ready: boolean
  store: string
  relays: Record<string, string>
}

const reason = (error: unknown) => (error instanceof Error ? error.message : String(error)) || 'not ready'

/**
 * Answers "can this replica do its work": the store answers, and every relay passed its own check.
 * Relay checks call their platform, so a result is reused for `cacheMs` rather than asked per probe.
 */
export function readinessCheck(
  store: Store,
  relays: ReadonlyMap<string, Relay>,
  cacheMs = 30_000,
  now = () => Date.now()
) {
  // Keyed by instance, not name: a relay replaced by a config reload is checked afresh, and a
  // retired instance's result goes with it.
  const relayResults = new WeakMap<Relay, { at: number; result: Promise<string> }>()
  const checkRelay = (relay: Relay): Promise<string> => {
    const cached = relayResults.get(relay)
    if (cached && now() - cached.at < cacheMs) return cached.result
    const result = (relay.ready?.() ?? Promise.resolve()).then(() => 'ok', reason)
    relayResults.set(relay, { at: now(), result })
    return result
  }
  return async (): Promise<Readiness> => {
    const storeState = await store.ping().then(() => 'ok', reason)
    const entries = await Promise.all(
      [...relays].map(async ([name, relay]) => [name, await checkRelay(relay)] as const)
    )
    const relayReport = Object.fromEntries(entries)
    return {
      ready: storeState === 'ok' && entries.every(([, r]) => r === 'ok'),
      store: storeState,
      relays: relayReport
    }
  }
}
