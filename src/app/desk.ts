import fp from 'fastify-plugin'
import { Desk, gptbotsRelay } from '../handoff/desk.js'
import { ConfigError } from '../errors.js'
import { humanApi } from '../handoff/gptbots-client.js'
import { createGptbotsRelay } from '../handoff/gptbots-relay.js'
import type { Relay } from '../relays/types.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The handoff desk; null when the config has no handoff section. */
    desk: Desk | null
    /** The built-in relay `@gptbots` that takes the humans' replies; null without a GPTBots API key. */
    deskRelay: Relay | null
  }
}

/**
 * The handoff desk and its relay to GPTBots (its routes are registered with the others). Each reply's receipt reaches the desk
 * from here: a delivered one from the relay itself, before the delivery counts; a dead one from
 * the dispatcher's attempts.
 */
export const deskPlugin = fp(
  async (app, options: { background: boolean }) => {
    const context = app.relayContext
    const { handoff } = context.live.current
    if (!handoff) {
      app.decorate('desk', null)
      app.decorate('deskRelay', null)
      return
    }
    // The desk and its relay to GPTBots need the default source's API key.
    const api = app.gptbots.for('default')
    if (api?.keyProblem) throw new ConfigError(`handoff: ${api.keyProblem}`)
    const desk = new Desk({
      store: app.store,
      clock: context.clock,
      deskRelays: () => context.live.current.handoff?.relays ?? [],
      noteMarker: () => context.live.current.handoff?.noteMarker ?? '//',
      holdingReply: () => {
        const holding = context.live.current.handoff?.holdingReply
        return holding && { text: holding.text, afterMs: holding.afterSeconds * 1000 }
      },
      // The dispatcher is registered after the desk; nothing is accepted before the app is ready.
      accepted: () => app.dispatcher.notify()
    })
    app.decorate('desk', desk)
    // The holding replies are due by the clock: checked each second (a cheap read when none wait),
    // like delivery only when it is not left to a test.
    let holdingTimer: NodeJS.Timeout | undefined
    if (options.background) {
      app.addHook('onReady', async () => {
        holdingTimer = setInterval(
          () =>
            desk.tick().catch((err: unknown) => context.logger.error({ err }, 'could not check the holding replies')),
          1000
        ).unref()
      })
    }
    app.addHook('preClose', async () => clearInterval(holdingTimer))
    const relay = api ? createGptbotsRelay(humanApi(api), message => desk.receipt(message, 'delivered')) : null
    app.decorate<Relay | null>('deskRelay', relay)
    // A reply that could not reach the user is marked in its thread.
    context.watchAttempts(event => {
      if (event.relay !== gptbotsRelay || event.outcome.status !== 'dead') return
      desk
        .receipt(event.delivery.message, 'dead', event.outcome.error)
        .catch((err: unknown) => context.logger.error({ err }, 'could not store the receipt of a handoff reply'))
    })
  },
  { name: 'relay-desk', dependencies: ['relay-context', 'relay-store', 'relay-gptbots'] }
)
