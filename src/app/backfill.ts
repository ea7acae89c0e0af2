import fp from 'fastify-plugin'
import { BackfillService } from '../backfill/service.js'
import type { RelayMessage } from '../message.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Reads back from GPTBots' API what never arrived (docs/backfill.md). */
    backfill: BackfillService
  }
}

/**
 * The backfill service, taking messages in through the intake's router and the store. Registered
 * before the intake: when the relay last took a message is read before new webhooks can hide the gap.
 */
export const backfillPlugin = fp(
  async (app, options: { router: (message: RelayMessage) => string[]; background: boolean }) => {
    const context = app.relayContext
    const backfill = new BackfillService({
      store: app.store,
      apis: app.gptbots,
      config: () => context.live.current,
      router: options.router,
      accepted: () => app.dispatcher.notify(),
      clock: context.clock,
      logger: context.logger.child({ component: 'backfill' }),
      observe: job => app.metrics?.backfill(job)
    })
    await backfill.prepare()
    app.decorate('backfill', backfill)
    if (options.background) app.addHook('onReady', async () => backfill.startAutomatic())
    app.addHook('onClose', async () => backfill.stop())
  },
  {
    name: 'relay-backfill',
    dependencies: ['relay-context', 'relay-store', 'relay-gptbots', 'relay-metrics', 'relay-dispatcher']
  }
)
