import closeWithGrace from 'close-with-grace'
import { buildApp } from './app.js'
import type { LoadedConfig } from './config/load.js'
import { createLogger } from './app.js'

/** Builds the relay, listens, reloads its config on SIGHUP, and shuts down gracefully on SIGTERM/SIGINT. */
export async function startServer(loaded: LoadedConfig): Promise<void> {
  const logger = createLogger(loaded.config)
  if (!loaded.file) {
    logger.warn(
      'no config file: running the default (console relay, open intake on 127.0.0.1). Copy config.example.json to config.json to configure tokens and relays.'
    )
  }
  const app = await buildApp({ loaded, logger })
  const { server, store } = loaded.config
  // The reload logs its own outcome; a bad config is refused there, so this never ends the process.
  const reloadOnHangup = () => {
    logger.info({ signal: 'SIGHUP' }, 'reloading the config')
    app.relay.reload?.().catch(error => logger.error({ err: error }, 'config reload failed'))
  }
  process.on('SIGHUP', reloadOnHangup)
  // SIGHUP means "reload", not "shut down" as close-with-grace would take it.
  closeWithGrace({ delay: server.shutdownTimeoutMs + 5000, logger, skip: ['SIGHUP'] }, async ({ signal, err }) => {
    process.off('SIGHUP', reloadOnHangup)
    if (err) logger.error({ err }, 'shutting down after an error')
    else logger.info({ signal }, 'shutting down: no new messages taken; finishing deliveries in flight')
    await app.close()
  })
  const address = await app.listen({ host: server.host, port: server.port })
  logger.info(
    { address, store: store.driver, relays: Object.keys(loaded.config.relays) },
    `gptbots-relay listening on ${address}: point GPTBots' webhook at ${address}/webhook`
  )
}
