import closeWithGrace from 'close-with-grace'
import { buildApp } from './app.js'
import type { LoadedConfig } from './config/load.js'
import type { Config } from './config/schema.js'
import { createLogger } from './app.js'
import { listenProblem, probeListen, StartupError, type ListenTarget } from './ops/startup.js'

/** How long a relay that failed to start may take to let go of its store and relays before the process ends. */
const abandonMs = 5000

/**
 * Builds the relay, listens, reloads its config on SIGHUP, and shuts down gracefully on SIGTERM/SIGINT.
 * Any start-up failure rejects with an error naming the cause, after closing whatever had started:
 * the caller exits, and no process is left half alive.
 */
export async function startServer(loaded: LoadedConfig): Promise<void> {
  const logger = createLogger(loaded.config)
  if (!loaded.file) {
    logger.warn(
      'no config file: running the default (console relay, open intake on 127.0.0.1). Copy config.example.json to config.json to configure tokens and relays.'
    )
  }
  const { server, store } = loaded.config
  const target: ListenTarget = {
    host: server.host,
    port: server.port,
    file: loaded.file,
    portFromEnv: process.env.PORT !== undefined && process.env.PORT !== ''
  }
  await probeListen(target)
  const app = await buildApp({ loaded, logger })
  // The reload logs its own outcome; a bad config is refused there, so this never ends the process.
  const reloadOnHangup = () => {
    logger.info({ signal: 'SIGHUP' }, 'reloading the config')
    app.relay.reload?.().catch(error => logger.error({ err: error }, 'config reload failed'))
  }
  process.on('SIGHUP', reloadOnHangup)
  // SIGHUP means "reload", not "shut down" as close-with-grace would take it.
  const grace = closeWithGrace(
    { delay: server.shutdownTimeoutMs + 5000, logger, skip: ['SIGHUP'] },
    async ({ signal, err }) => {
      process.off('SIGHUP', reloadOnHangup)
      if (err) logger.error({ err }, 'shutting down after an error')
      else logger.info({ signal }, 'shutting down: no new messages taken; finishing deliveries in flight')
      await app.close()
    }
  )
  let address: string
  try {
    address = await app.listen({ host: server.host, port: server.port })
  } catch (error) {
    grace.uninstall()
    process.off('SIGHUP', reloadOnHangup)
    // Nothing was accepted yet; the dispatcher and relays stop, and the store is closed, if they can in time.
    await Promise.race([app.close().catch(() => {}), new Promise(done => setTimeout(done, abandonMs).unref())])
    throw new StartupError(listenProblem(error, target), { cause: error })
  }
  logger.info(
    { address, store: store.driver, relays: Object.keys(loaded.config.relays) },
    `gptbots-relay listening on ${address}`
  )
  logger.info(webhookAdvice(loaded.config, address))
}

const allInterfaces = new Set(['0.0.0.0', '::', '0:0:0:0:0:0:0:0', '[::]'])
const loopback = (host: string) => host === 'localhost' || host === '::1' || /^127\./.test(host)

/**
 * The URL to paste into GPTBots, which calls the relay from the internet over HTTPS. An address the
 * relay listens on is only that when it is a specific one: 0.0.0.0 and 127.0.0.1 are not reachable
 * from GPTBots, so then the line says what to use instead.
 */
export function webhookAdvice(config: Pick<Config, 'server' | 'auth'>, address: string): string {
  const sources = Object.keys(config.auth.sources)
  const paths = sources.length > 0 ? ` (or /webhook/${sources.length === 1 ? sources[0] : '<source>'} per source)` : ''
  const { host, publicUrl, port } = config.server
  if (publicUrl) return `GPTBots webhook URL: ${publicUrl.replace(/\/+$/, '')}/webhook${paths}`
  if (allInterfaces.has(host))
    return `GPTBots webhook URL: https://<this host's public address>/webhook${paths}, with HTTPS (a reverse proxy or tunnel) in front of port ${port}; set server.publicUrl to have the exact URL printed here`
  if (loopback(host))
    return `only this machine can reach ${address}: GPTBots calls the relay from the internet over HTTPS, so put a reverse proxy or tunnel in front, and set server.publicUrl to have its URL printed here`
  return `GPTBots webhook URL: ${address}/webhook${paths}, if GPTBots can reach that address; it calls over HTTPS from the internet, so set server.publicUrl to the public URL when a proxy or tunnel is in front`
}
