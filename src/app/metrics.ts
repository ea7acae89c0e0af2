import fp from 'fastify-plugin'
import { createMetrics, type RelayMetrics, useMetrics } from '../ops/metrics.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The Prometheus metrics; null when metrics.enabled is false. */
    metrics: RelayMetrics | null
  }
}

/** Counts requests, intake and delivery attempts, and serves GET /metrics; registered before the routes it counts. */
export const metricsPlugin = fp(
  async app => {
    const context = app.relayContext
    if (!context.live.current.metrics.enabled) {
      app.decorate('metrics', null)
      return
    }
    const metrics = createMetrics({
      store: app.store,
      relays: app.relays,
      clock: context.clock,
      logger: context.logger.child({ component: 'metrics' }),
      // Read at scrape time, once the dispatcher exists.
      held: (): ReadonlyMap<string, unknown> => app.dispatcher.heldRelays()
    })
    context.watchAttempts(event => metrics.attempt(event))
    useMetrics(app, metrics)
    app.decorate('metrics', metrics)
  },
  { name: 'relay-metrics', dependencies: ['relay-context', 'relay-store', 'relay-relays'] }
)
