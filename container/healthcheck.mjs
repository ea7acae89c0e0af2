// The image's HEALTHCHECK (and, with /readyz, the compose file's): the slim image has no curl, so
// Node asks the relay itself. It asks on the address the relay listens on: the config's
// server.host and server.port (PORT overriding the port), read by the relay's own loader from
// $GPTBOTS_RELAY_CONFIG, as `start` reads them, so a mounted config with another port is checked
// where it listens. Usage: node healthcheck.mjs [/healthz | /readyz]
import { defaultConfig, loadConfigFile } from '../dist/src/config/load.js'

const path = process.argv[2] ?? '/healthz'
let server
try {
  const file = process.env.GPTBOTS_RELAY_CONFIG
  server = (file ? loadConfigFile(file) : defaultConfig()).config.server
} catch (error) {
  console.error(`healthcheck: ${error instanceof Error ? error.message : error}`)
  process.exit(1)
}
// A relay listening on every interface answers on loopback.
const host = ['0.0.0.0', '::', ''].includes(server.host) ? '127.0.0.1' : server.host
const url = `http://${host.includes(':') ? `[${host}]` : host}:${server.port}${path}`
try {
  // Under the HEALTHCHECK's --timeout of 5 s; /readyz may ask Slack and Discord, so it gets longer.
  const response = await fetch(url, { signal: AbortSignal.timeout(path === '/readyz' ? 9000 : 4000) })
  if (!response.ok) console.error(`healthcheck: ${url} answered ${response.status}`)
  process.exit(response.ok ? 0 : 1)
} catch (error) {
  console.error(`healthcheck: ${url}: ${error instanceof Error ? error.message : error}`)
  process.exit(1)
}
