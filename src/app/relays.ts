import fp from 'fastify-plugin'
import { gptbotsRelay } from '../handoff/desk.js'
import { logNotReady } from '../ops/readiness.js'
import { loadRelays } from '../relays/loader.js'
import type { Relay } from '../relays/types.js'

/** Creates running relays from config entries (the plugin loader, or fakes in tests). */
export type RelayFactory = (entries: Record<string, { type: string }>, configDir: string) => Promise<Map<string, Relay>>

declare module 'fastify' {
  interface FastifyInstance {
    /** The running relays by name; a reload updates the map in place, so every holder sees the current ones. */
    relays: Map<string, Relay>
    /** How relays are created, at start and on reload. */
    createRelays: RelayFactory
  }
}

export interface RelaysPluginOptions {
  /** Use these relays instead of loading the configured ones (tests). */
  relays?: Map<string, Relay>
  /** Creates relays from config entries instead of loading their plugins, at start and on reload (tests). */
  createRelays?: RelayFactory
}

/** The configured relays and the desk's: checked when the app is ready, closed after the dispatcher stops. */
export const relaysPlugin = fp(
  async (app, options: RelaysPluginOptions) => {
    const context = app.relayContext
    const { desk } = app
    const createRelays: RelayFactory =
      options.createRelays ??
      ((entries, dir) => {
        // A reload may bring new relay secrets: the logger must know them before the relays can log.
        context.learnSecrets({ relays: entries })
        return loadRelays(
          entries,
          dir,
          bindings => context.childLogger(bindings),
          context.clock,
          name => (desk && context.live.current.handoff?.relays.includes(name) ? { desk: desk.forRelay(name) } : {})
        )
      })
    const relays = options.relays ?? (await createRelays(context.live.current.relays, context.configDir))
    if (app.deskRelay) relays.set(gptbotsRelay, app.deskRelay)
    app.decorate('relays', relays)
    app.decorate('createRelays', createRelays)

    app.addHook('onReady', async () => {
      for (const [name, relay] of relays) {
        relay.ready?.().catch((error: unknown) => logNotReady(context.logger, name, error))
      }
    })
    app.addHook('onClose', async () => {
      for (const relay of relays.values())
        await relay.close?.().catch(error => context.logger.error({ err: error }, 'relay did not close cleanly'))
    })

    const pending = await app.store.pendingByRelay()
    for (const [relay, count] of Object.entries(pending)) {
      if (!relays.has(relay))
        context.logger.warn(
          { relay, pending: count },
          `${count} message(s) wait for relay "${relay}", which is no longer configured; they are kept and go out if it returns`
        )
    }
  },
  { name: 'relay-relays', dependencies: ['relay-context', 'relay-store', 'relay-desk'] }
)
