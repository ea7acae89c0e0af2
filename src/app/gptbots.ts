import fp from 'fastify-plugin'
import { gptbotsRelay } from '../handoff/desk.js'
import { GptbotsApis } from '../gptbots/api.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** GPTBots' API, one client per source, shared by the handoff desk and what reads GPTBots back. */
    gptbots: GptbotsApis
  }
}

export const gptbotsPlugin = fp(
  async (app, options: { env?: NodeJS.ProcessEnv }) => {
    const context = app.relayContext
    const gptbots = new GptbotsApis({
      config: context.live.current,
      configDir: context.configDir,
      env: options.env,
      clock: context.clock
    })
    // Keys are secrets wherever they would show: log lines, stored errors, admin answers.
    const keys = { type: 'gptbots', apiKey: gptbots.allKeys() }
    context.learnSecrets({ relays: { [gptbotsRelay]: keys } })
    app.decorate('gptbots', gptbots)
  },
  { name: 'relay-gptbots', dependencies: ['relay-context'] }
)
