import fp from 'fastify-plugin'
import { openStore } from '../store/index.js'
import { startRetention, type Retention } from '../store/retention.js'
import type { Store } from '../store/types.js'

declare module 'fastify' {
  interface FastifyInstance {
    store: Store
  }
}

export interface StorePluginOptions {
  /** Use this store instead of opening the configured one (tests); it is closed with the app all the same. */
  store?: Store
  /** Prune delivered messages in the background (not when delivery is left to a test). */
  background: boolean
}

/** The store: opened first and closed last, so every other part finds it open. */
export const storePlugin = fp(
  async (app, options: StorePluginOptions) => {
    const { live, clock, logger } = app.relayContext
    const config = live.current
    const store = options.store ?? (await openStore(config.store))
    app.decorate('store', store)
    // Pruning runs beside the dispatcher, and like it only when delivery is not left to a test.
    let retention: Retention | undefined
    if (options.background) {
      app.addHook('onReady', async () => {
        retention = startRetention({
          store,
          retention: config.retention,
          clock,
          logger: logger.child({ component: 'retention' })
        })
      })
    }
    app.addHook('onClose', async () => {
      await retention?.stop()
      await store.close()
    })
  },
  { name: 'relay-store', dependencies: ['relay-context'] }
)
