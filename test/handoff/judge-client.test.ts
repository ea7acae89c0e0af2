import t, { type Test } from 'tap'
import { resolveConfig } from '../../src/config/load.js'
import { GptbotsApis } from '../../src/gptbots/api.js'
import { humanApi } from '../../src/handoff/gptbots-client.js'
import { FakeGptbots, fakeApiKey } from '../fakes/gptbots.js'
import { ManualClock } from '../helpers/clock.js'

async function setup(t: Test, key = fakeApiKey) {
  const fake = await FakeGptbots.start()
  t.teardown(() => fake.close())
  const { config } = resolveConfig(
    {
      auth: { tokens: ['test-token-0123456789'] },
      relays: { console: { type: 'console' } },
      gptbots: { apiUrl: fake.apiUrl }
    },
    { configDir: process.cwd(), env: {} }
  )
  const apis = new GptbotsApis({
    config,
    configDir: process.cwd(),
    env: { GPTBOTS_API_KEY: key },
    clock: new ManualClock()
  })
  return { fake, api: humanApi(apis.for('default')!) }
}

t.test("a team's feedback and a reviewer's verdict reach GPTBots for the answer they name", async t => {
  const { fake, api } = await setup(t)
  fake.answers.add('msg-1')
  t.same(await api.judge({ answerId: 'msg-1', call: 'feedback', value: 'POSITIVE' }), { ok: true })
  t.same(await api.judge({ answerId: 'msg-1', call: 'feedback', value: 'CANCELED' }), { ok: true })
  t.same(await api.judge({ answerId: 'msg-1', call: 'quality', value: 'PARTIALLY_RESOLVED' }), { ok: true })
  t.same(fake.judgements, [
    { answerId: 'msg-1', call: 'feedback', value: 'POSITIVE' },
    { answerId: 'msg-1', call: 'feedback', value: 'CANCELED' },
    { answerId: 'msg-1', call: 'quality', value: 'PARTIALLY_RESOLVED' }
  ])
})

t.test('GPTBots refusing or failing a judgement: each failure has its kind', async t => {
  const { fake, api } = await setup(t)
  fake.answers.add('msg-2')
  const unknown = await api.judge({ answerId: 'msg-unknown', call: 'feedback', value: 'NEGATIVE' })
  t.match(unknown, { ok: false, kind: 'permanent', error: /affectCount 0/ }, 'an answer GPTBots does not know')
  fake.fail({ status: 400 })
  t.match(
    await api.judge({ answerId: 'msg-2', call: 'feedback', value: 'NEGATIVE' }),
    { ok: false, kind: 'permanent' },
    'a 4xx is for good'
  )
  fake.fail({ status: 503 })
  t.match(
    await api.judge({ answerId: 'msg-2', call: 'feedback', value: 'NEGATIVE' }),
    { ok: false, kind: 'transient' },
    'a 5xx is worth a retry'
  )
  fake.fail({ code: 40000, message: 'invalid parameter' })
  t.match(
    await api.judge({ answerId: 'msg-2', call: 'quality', value: 'FULLY_RESOLVED' }),
    { ok: false, kind: 'permanent', code: 40000 },
    'an error code in a 200'
  )
  t.same(fake.judgements, [], 'nothing was taken')
  t.same(await api.judge({ answerId: 'msg-2', call: 'feedback', value: 'NEGATIVE' }), { ok: true }, 'then it goes')
})

t.test('a key GPTBots refuses is a credentials failure', async t => {
  const { api } = await setup(t, 'app-wrong-key-0123456789')
  t.match(await api.judge({ answerId: 'msg-3', call: 'feedback', value: 'POSITIVE' }), {
    ok: false,
    kind: 'credentials'
  })
})
