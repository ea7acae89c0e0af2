import t, { type Test } from 'tap'
import { resolveConfig } from '../../src/config/load.js'
import { GptbotsApiError, GptbotsApis } from '../../src/gptbots/api.js'
import { FakeGptbots, fakeApiKey } from '../fakes/gptbots.js'
import { ManualClock } from '../helpers/clock.js'

const TOKEN = 'test-token-0123456789'

async function setup(t: Test, gptbots: Record<string, unknown> = {}, env: NodeJS.ProcessEnv = {}) {
  const fake = await FakeGptbots.start()
  t.teardown(() => fake.close())
  const clock = new ManualClock()
  const { config } = resolveConfig(
    {
      auth: { tokens: [TOKEN], sources: { other: { tokens: [TOKEN] } } },
      relays: { console: { type: 'console' } },
      gptbots: { apiUrl: fake.apiUrl, ...gptbots }
    },
    { configDir: process.cwd(), env }
  )
  const apis = new GptbotsApis({
    config,
    configDir: process.cwd(),
    env: { GPTBOTS_API_KEY: fakeApiKey, ...env },
    clock
  })
  return { fake, clock, apis, api: apis.for('default')! }
}

const window = { startTime: 0, endTime: Date.UTC(2030, 0, 1), page: 1, pageSize: 100 }

t.test('reads the conversation list with the bearer key', async t => {
  const { fake, api } = await setup(t)
  fake.addConversation('c-1', 2, Date.UTC(2026, 0, 1))
  const page = await api.conversationPage(window)
  t.same(
    page.list.map(c => c.conversation_id),
    ['c-1']
  )
  t.equal(page.total, 1)
  t.match(fake.requests[0], { method: 'GET', path: '/v1/bot/conversation/page', authorized: true, status: 200 })
  t.match(fake.requests[0]!.query, /conversation_type=ALL/)
})

t.test('a wrong key is an error naming the source and GPTBots code 40127, not a crash', async t => {
  const { apis } = await setup(t, {}, { GPTBOTS_API_KEY: 'app-wrong-key' })
  const error = await apis
    .for('default')!
    .conversationPage(window)
    .catch((e: unknown) => e)
  t.type(error, GptbotsApiError)
  t.match(error, { kind: 'credentials', source: 'default', status: 401, code: 40127 })
  t.match((error as Error).message, /source "default".*HTTP 401 code 40127.*the API key is wrong/)
  t.notMatch((error as Error).message, /app-wrong-key/, 'the key is not in the message')
})

t.test('a missing key makes no call and names the source and the variable to set', async t => {
  const fake = await FakeGptbots.start()
  t.teardown(() => fake.close())
  const { config } = resolveConfig(
    {
      auth: { tokens: [TOKEN], sources: { shop: { tokens: [TOKEN] } } },
      relays: { console: { type: 'console' } },
      gptbots: { apiUrl: fake.apiUrl, sources: { shop: { apiKeyEnv: 'SHOP_GPTBOTS_KEY' } } }
    },
    { configDir: process.cwd(), env: {} }
  )
  const apis = new GptbotsApis({ config, configDir: process.cwd(), env: { GPTBOTS_API_KEY: fakeApiKey } })
  t.equal(apis.for('default')!.keyProblem, undefined)
  const shop = apis.for('shop')!
  t.match(
    shop.keyProblem,
    /source "shop" is missing: set the environment variable SHOP_GPTBOTS_KEY \(gptbots\.sources\.shop\.apiKeyEnv\)/
  )
  const error = await shop.conversationPage(window).catch((e: unknown) => e)
  t.match(error, { kind: 'credentials', source: 'shop' })
  t.equal(fake.requests.length, 0, 'nothing was sent')
})

t.test("a 429 is tried again after its Retry-After, on the relay's clock", async t => {
  const { fake, clock, api } = await setup(t)
  fake.addConversation('c-1', 2, Date.UTC(2026, 0, 1))
  fake.fail({ status: 429, retryAfter: '7' })
  const start = clock.now()
  const page = await api.conversationPage(window)
  t.equal(page.list.length, 1)
  t.same(
    fake.requests.map(r => r.status),
    [429, 200]
  )
  t.ok(clock.now() - start >= 7000, `waited ${clock.now() - start} ms, at least the 7 s asked`)
  t.equal(api.calls, 2)
})

t.test('5xx is retried with backoff, up to gptbots.maxAttempts, then an error', async t => {
  const { fake, api } = await setup(t, { maxAttempts: 3 })
  fake.fail({ status: 502 }, { status: 503 })
  fake.addConversation('c-1', 1, Date.UTC(2026, 0, 1))
  t.equal((await api.messagePage({ conversationId: 'c-1', page: 1, pageSize: 100 })).conversation_content.length, 1)
  fake.fail({ status: 500 }, { status: 500 }, { status: 500 })
  const error = await api.messagePage({ conversationId: 'c-1', page: 1, pageSize: 100 }).catch((e: unknown) => e)
  t.match(error, { kind: 'transient', status: 500 })
  t.match((error as Error).message, /after 3 tries/)
  t.equal(fake.requests.length, 6)
})

t.test('GPTBots codes in a 200: 20059 (bot deleted) and 40000 are not retried', async t => {
  const { fake, api } = await setup(t)
  fake.fail({ code: 20059, message: 'bot deleted' })
  const deleted = await api.conversationPage(window).catch((e: unknown) => e)
  t.match(deleted, { kind: 'permanent', code: 20059 })
  t.match((deleted as Error).message, /the bot was deleted/)
  fake.fail({ code: 40000, message: 'Invalid parameter' })
  t.match(await api.conversationPage(window).catch((e: unknown) => e), { kind: 'permanent', code: 40000 })
  t.equal(fake.requests.length, 2, 'each tried once')
})

t.test('a page_size over 100 is refused by GPTBots with code 40000', async t => {
  const { api } = await setup(t)
  const error = await api.conversationPage({ ...window, pageSize: 101 }).catch((e: unknown) => e)
  t.match(error, { kind: 'permanent', status: 400, code: 40000 })
})

t.test('calls are paced per key: a burst, then one per 60/perMinute seconds', async t => {
  const { fake, clock, apis } = await setup(t, { pace: { perMinute: 30, burst: 2 } })
  fake.addConversation('c-1', 1, Date.UTC(2026, 0, 1))
  const start = clock.now()
  // `other` has no settings of its own: it is the same bot and key, so it shares the pace.
  for (const source of ['default', 'other', 'default', 'other'])
    await apis.for(source)!.messagePage({ conversationId: 'c-1', page: 1, pageSize: 10 })
  t.equal(fake.requests.length, 4)
  t.equal(clock.now() - start, 4000, 'two at once, then 2 s apart')
})
