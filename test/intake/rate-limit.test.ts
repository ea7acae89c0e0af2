import t from 'tap'
import { FakeRelay } from '../helpers/fake-relay.js'
import { post, seed, testApp, TOKEN } from '../helpers/app.js'

// The per-source budget (intake.rateLimit): each source has its own, only authenticated requests
// spend it, and a refusal is GPTBots' envelope with Retry-After, never the limiter's own body.

const TOKEN_A = 'token-of-source-a-0123'
const TOKEN_B = 'token-of-source-b-0123'
const WINDOW_MS = 400

async function limitedApp(t: Parameters<typeof testApp>[0], max = 3) {
  const relay = new FakeRelay()
  const app = await testApp(t, {
    relays: new Map([['fake', relay]]),
    config: {
      auth: { tokens: [TOKEN], sources: { a: { tokens: [TOKEN_A] }, b: { tokens: [TOKEN_B] } } },
      intake: { rateLimit: { max, windowMs: WINDOW_MS } }
    }
  })
  return { app, relay }
}

let n = 0
const fresh = () => seed({ message_id: `rl-${++n}` })
const asA = { authorization: `Bearer ${TOKEN_A}` }
const asB = { authorization: `Bearer ${TOKEN_B}` }

t.test(
  'each source has its own budget; over it: 429 RATE_LIMITED in the envelope, with Retry-After, nothing stored',
  async t => {
    const { app, relay } = await limitedApp(t)
    const remaining: string[] = []
    for (let i = 0; i < 3; i++) {
      const res = await post(app, fresh(), asA, '/webhook/a')
      t.equal(res.statusCode, 200)
      t.equal(res.headers['x-ratelimit-limit'], '3')
      remaining.push(String(res.headers['x-ratelimit-remaining']))
    }
    t.same(remaining, ['2', '1', '0'], 'every answer says what is left')

    const refused = await post(app, seed({ message_id: 'over-the-limit' }), asA, '/webhook/a')
    t.equal(refused.statusCode, 429)
    t.equal(refused.headers['x-relay-error'], 'RATE_LIMITED')
    t.equal(refused.headers['content-type'], 'application/json; charset=utf-8')
    const body = refused.json() as { code: number; msg: string }
    t.same(Object.keys(body).sort(), ['code', 'msg'], "GPTBots' envelope, not the limiter's default body")
    t.equal(body.code, 429)
    t.match(body.msg, /source "a" sent more than 3 webhook requests within 400 ms/)
    t.equal(refused.headers['retry-after'], '1', 'Retry-After is the rest of the window, rounded up to whole seconds')
    t.equal(refused.headers['x-ratelimit-limit'], '3')
    t.equal(refused.headers['x-ratelimit-remaining'], '0')
    t.ok(refused.headers['x-ratelimit-reset'] !== undefined)

    t.equal((await post(app, fresh(), asB, '/webhook/b')).statusCode, 200, 'source b has its own budget')
    t.equal((await post(app, fresh())).statusCode, 200, 'so has the default source (POST /webhook)')

    await app.relay.dispatcher.drain()
    t.equal(relay.delivered.length, 5, 'the accepted ones, and only those, were stored')
    t.notOk(
      relay.delivered.some(m => m.messageId === 'over-the-limit'),
      'the refused message was not stored'
    )
  }
)

t.test('the budget comes back when the window ends', async t => {
  const { app } = await limitedApp(t, 1)
  t.equal((await post(app, fresh(), asA, '/webhook/a')).statusCode, 200)
  t.equal((await post(app, fresh(), asA, '/webhook/a')).statusCode, 429)
  await new Promise(resolve => setTimeout(resolve, WINDOW_MS + 50))
  const res = await post(app, seed({ message_id: 'after-the-window' }), asA, '/webhook/a')
  t.equal(res.statusCode, 200)
  t.equal(res.headers['x-ratelimit-remaining'], '0')
})

t.test("a flood with wrong tokens does not spend the real sender's budget", async t => {
  const { app } = await limitedApp(t)
  // Strangers from many addresses, as a botnet would: each address stays under its own failure budget.
  for (let i = 0; i < 20; i++) {
    const res = await app.inject({
      method: 'POST',
      url: '/webhook/a',
      remoteAddress: `198.51.100.${i}`,
      headers: { 'content-type': 'application/json', authorization: 'Bearer guessed-token' },
      payload: JSON.stringify(fresh())
    })
    t.equal(res.statusCode, 401, 'a stranger is refused for its credentials')
    t.equal(res.headers['x-ratelimit-remaining'], undefined, "and is not told about the source's budget")
  }
  for (let i = 0; i < 3; i++)
    t.equal((await post(app, fresh(), asA, '/webhook/a')).statusCode, 200, 'the real sender still has its whole budget')
  t.equal((await post(app, fresh(), asA, '/webhook/a')).statusCode, 429)
})

t.test('one address that keeps failing authentication is limited on its own', async t => {
  const { app } = await limitedApp(t)
  const stranger = (url: string, authorization?: string) =>
    app.inject({
      method: 'POST',
      url,
      remoteAddress: '203.0.113.7',
      headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
      payload: JSON.stringify(fresh())
    })
  // Wrong token, no token, an unknown source: every kind of failure counts.
  t.equal((await stranger('/webhook/a', 'Bearer nope')).statusCode, 401)
  t.equal((await stranger('/webhook/a')).statusCode, 401)
  t.equal((await stranger('/webhook/nosuchsource', 'Bearer nope')).statusCode, 404)
  const limited = await stranger('/webhook/a', 'Bearer nope')
  t.equal(limited.statusCode, 429)
  t.equal(limited.headers['x-relay-error'], 'RATE_LIMITED')
  t.ok(Number(limited.headers['retry-after']) >= 1)
  t.match(limited.json(), { code: 429, msg: /failed authentication/ })
  // The real sender, from the same address even, is untouched.
  const res = await app.inject({
    method: 'POST',
    url: '/webhook/a',
    remoteAddress: '203.0.113.7',
    headers: { 'content-type': 'application/json', ...asA },
    payload: JSON.stringify(fresh())
  })
  t.equal(res.statusCode, 200)
  t.equal(res.headers['x-ratelimit-remaining'], '2')
})

t.test('availability probes count against the budget', async t => {
  const { app } = await limitedApp(t, 2)
  t.equal((await post(app, { istest: true }, asA, '/webhook/a')).statusCode, 200)
  t.equal((await post(app, { istest: true }, asA, '/webhook/a')).statusCode, 200)
  t.equal((await post(app, { istest: true }, asA, '/webhook/a')).statusCode, 429)
})

t.test('max 0 turns the limit off', async t => {
  const { app, relay } = await limitedApp(t, 0)
  for (let i = 0; i < 50; i++) {
    const res = await post(app, fresh(), asA, '/webhook/a')
    t.equal(res.statusCode, 200)
    t.equal(res.headers['x-ratelimit-limit'], undefined, 'and its headers')
  }
  for (let i = 0; i < 10; i++)
    t.equal(
      (await post(app, fresh(), { authorization: 'Bearer nope' }, '/webhook/a')).statusCode,
      401,
      'failures are not limited either'
    )
  await app.relay.dispatcher.drain()
  t.equal(relay.delivered.length, 50)
})

t.test('health, readiness and unknown routes are never rate-limited', async t => {
  const { app } = await limitedApp(t, 1)
  for (let i = 0; i < 5; i++) {
    const health = await app.inject({ method: 'GET', url: '/healthz' })
    t.equal(health.statusCode, 200)
    t.equal(health.headers['x-ratelimit-limit'], undefined)
    t.equal((await app.inject({ method: 'GET', url: '/readyz' })).headers['x-ratelimit-limit'], undefined)
    t.equal((await app.inject({ method: 'GET', url: '/nowhere' })).statusCode, 404)
  }
})
