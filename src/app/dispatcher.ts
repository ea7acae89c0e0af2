import fp from 'fastify-plugin'
import { Dispatcher } from '../dispatch/dispatcher.js'
import { LagWatch } from '../dispatch/lag.js'

declare module 'fastify' {
  interface FastifyInstance {
    dispatcher: Dispatcher
  }
}

export interface DispatcherPluginOptions {
  /** Deliver on its own once the app is ready; false leaves delivery to `dispatcher.drain()` (tests). */
  background: boolean
  random?: () => number
  /** How often a relay held for refused credentials tries again (default 60 s). */
  holdRecheckMs?: number
}

/**
 * The dispatcher, and the watch that warns when a relay falls behind: started when the app is
 * ready, stopped (deliveries in flight finished) before the relays and the store close.
 */
export const dispatcherPlugin = fp(
  async (app, options: DispatcherPluginOptions) => {
    const context = app.relayContext
    const config = context.live.current
    const watchers = context.attemptWatchers
    const dispatcher = new Dispatcher({
      ...config.dispatch,
      store: app.store,
      relays: app.relays,
      clock: context.clock,
      random: options.random,
      holdRecheckMs: options.holdRecheckMs,
      logger: context.childLogger({ component: 'dispatcher' }),
      onAttempt: event => {
        for (const watch of watchers) watch(event)
      },
      scrub: context.scrubber.text
    })
    app.decorate('dispatcher', dispatcher)
    // Warns once when a relay falls behind by more than dispatch.lagWarnMs, and when it catches up.
    const lagWatch = new LagWatch({
      store: app.store,
      relays: () => app.relays.keys(),
      thresholdMs: () => context.live.current.dispatch.lagWarnMs,
      clock: context.clock,
      logger: context.childLogger({ component: 'lag' })
    })
    if (options.background) {
      app.addHook('onReady', async () => {
        dispatcher.start()
        lagWatch.start()
      })
    }
    app.addHook('onClose', async () => {
      await lagWatch.stop()
      await dispatcher.stop(config.server.shutdownTimeoutMs)
    })
  },
  { name: 'relay-dispatcher', dependencies: ['relay-context', 'relay-store', 'relay-relays'] }
)
