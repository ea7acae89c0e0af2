import t from 'tap'
import { resolveConfig } from '../../src/config/load.js'
import { sourceApiSettings } from '../../src/gptbots/settings.js'

const base = {
  auth: { tokens: ['test-token-0123456789'], sources: { shop: { tokens: ['x'] }, eu: { tokens: ['y'] } } },
  relays: { console: { type: 'console' } }
}
const load = (extra: Record<string, unknown>) =>
  resolveConfig({ ...base, ...extra }, { configDir: '/cfg', env: {} }).config

t.test('the default source: gptbots fields, with their defaults', async t => {
  const config = load({})
  t.same(sourceApiSettings(config, 'default'), {
    source: 'default',
    apiUrl: 'https://api.gptbots.ai',
    timeoutMs: 15000,
    keyFrom: { env: 'GPTBOTS_API_KEY', path: 'gptbots.apiKeyEnv' },
    pace: { perMinute: 60, burst: 10 },
    maxAttempts: 6
  })
})

t.test('handoff.gptbots is the default source settings spelled elsewhere; every source inherits them', async t => {
  const config = load({
    relays: { desk: { type: 'console' } },
    handoff: {
      relays: ['desk'],
      gptbots: { apiUrl: 'https://api-sg.gptbots.ai', apiKeyFile: 'key.txt', timeoutMs: 5000 }
    }
  })
  t.match(sourceApiSettings(config, 'default'), {
    apiUrl: 'https://api-sg.gptbots.ai',
    timeoutMs: 5000,
    keyFrom: { file: 'key.txt', path: 'handoff.gptbots.apiKeyFile' }
  })
  t.match(sourceApiSettings(config, 'shop'), { source: 'shop', apiUrl: 'https://api-sg.gptbots.ai' })
})

t.test("a named source's own settings, field by field over the default's", async t => {
  const config = load({
    gptbots: { apiUrl: 'https://api-jp.gptbots.ai', sources: { eu: { apiKeyEnv: 'EU_KEY' } } }
  })
  t.match(sourceApiSettings(config, 'eu'), {
    apiUrl: 'https://api-jp.gptbots.ai',
    keyFrom: { env: 'EU_KEY', path: 'gptbots.sources.eu.apiKeyEnv' }
  })
  t.match(sourceApiSettings(config, 'shop'), { keyFrom: { env: 'GPTBOTS_API_KEY' } })
})

t.test('refused: the two places disagreeing, a source that does not exist, a key in the file', async t => {
  t.throws(
    () =>
      load({
        relays: { desk: { type: 'console' } },
        gptbots: { apiUrl: 'https://api-th.gptbots.ai' },
        handoff: { relays: ['desk'], gptbots: { apiUrl: 'https://api-sg.gptbots.ai' } }
      }),
    /handoff\.gptbots\.apiUrl \("https:\/\/api-sg\.gptbots\.ai"\) and gptbots\.apiUrl \("https:\/\/api-th\.gptbots\.ai"\) disagree/
  )
  t.throws(
    () => load({ gptbots: { sources: { nope: { apiKeyEnv: 'X' } } } }),
    /gptbots\.sources\."nope" is not a source in auth\.sources/
  )
  t.throws(() => load({ gptbots: { apiKey: 'app-secret' } }), /gptbots/)
})
