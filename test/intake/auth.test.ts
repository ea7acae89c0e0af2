import t from 'tap'
import { authenticate, candidatesOf, TokenSet } from '../../src/intake/auth.js'
import { FakeRelay } from '../helpers/fake-relay.js'
import { post, seed, testApp, TOKEN } from '../helpers/app.js'

const b64 = (s: string) => Buffer.from(s).toString('base64')

t.test('authenticate: each way GPTBots and HTTP clients send credentials', async t => {
  const tokens = new TokenSet(['key-1', 'key-2'])
  t.same(authenticate('Bearer key-1', tokens), { ok: true })
  t.same(authenticate('bearer key-2', tokens), { ok: true }, 'scheme is case-insensitive')
  t.same(authenticate('Basic key-1', tokens), { ok: true }, "GPTBots' own Basic <token>")
  t.same(authenticate(`Basic ${b64('user:key-2')}`, tokens), { ok: true }, 'base64 of user:token')
  t.same(authenticate(`Basic ${b64(':key-1')}`, tokens), { ok: true }, 'base64 of :token')
  t.same(authenticate(undefined, tokens), { ok: false, reason: 'missing' })
  t.same(authenticate('', tokens), { ok: false, reason: 'missing' })
  t.same(authenticate('key-1', tokens), { ok: false, reason: 'scheme' })
  t.same(authenticate('Token key-1', tokens), { ok: false, reason: 'scheme' })
  t.same(authenticate('Digest key-1', tokens), { ok: false, reason: 'scheme' })
  t.same(authenticate('Bearer key-3', tokens), { ok: false, reason: 'mismatch' })
  t.same(authenticate('Bearer key-', tokens), { ok: false, reason: 'mismatch' }, 'a prefix is not the token')
  t.same(authenticate('Bearer key-10', tokens), { ok: false, reason: 'mismatch' }, 'an extension is not the token')
  t.same(
    authenticate(`Basic ${b64('key-1:user')}`, tokens),
    { ok: false, reason: 'mismatch' },
    'the user part is not the token'
  )
})

t.test('candidatesOf reads raw and base64 Basic values', async t => {
  t.same(candidatesOf(`Basic ${b64('u:p')}`), [b64('u:p'), 'p'])
  t.same(candidatesOf('Basic not base64!'), ['not base64!'])
})

t.test('TokenSet compares against every token whatever matches first', async t => {
  // Same-length and different-length tokens: both must be compared in full, via digests.
  const tokens = new TokenSet(['a', 'b'.repeat(100)])
  t.ok(tokens.matches('a'))
  t.ok(tokens.matches('b'.repeat(100)))
  t.notOk(tokens.matches('b'.repeat(99)))
  t.equal(tokens.size, 2)
})

t.test('over HTTP: every auth case on /webhook and per source', async t => {
  const relay = new FakeRelay()
  const app = await testApp(t, {
    relays: new Map([['fake', relay]]),
    config: { auth: { tokens: [TOKEN], sources: { sales: { tokens: ['sales-token-abc'] } } } }
  })
  const cases: { name: string; url?: string; auth?: string; status: number; code?: string }[] = [
    { name: 'bearer', auth: `Bearer ${TOKEN}`, status: 200 },
    { name: 'basic raw', auth: `Basic ${TOKEN}`, status: 200 },
    { name: 'basic user:token', auth: `Basic ${b64(`gptbots:${TOKEN}`)}`, status: 200 },
    { name: 'no header', status: 401, code: 'AUTH_MISSING' },
    { name: 'wrong token', auth: 'Bearer wrong', status: 401, code: 'AUTH_INVALID' },
    {
      name: 'wrong token of the right length',
      auth: `Bearer ${'x'.repeat(TOKEN.length)}`,
      status: 401,
      code: 'AUTH_INVALID'
    },
    { name: 'other scheme', auth: `Digest ${TOKEN}`, status: 401, code: 'AUTH_SCHEME' },
    { name: 'no scheme', auth: TOKEN, status: 401, code: 'AUTH_SCHEME' },
    { name: 'source token on /webhook', auth: 'Bearer sales-token-abc', status: 401, code: 'AUTH_INVALID' },
    { name: 'source with its token', url: '/webhook/sales', auth: 'Bearer sales-token-abc', status: 200 },
    {
      name: 'default token on a source',
      url: '/webhook/sales',
      auth: `Bearer ${TOKEN}`,
      status: 401,
      code: 'AUTH_INVALID'
    },
    { name: 'unknown source', url: '/webhook/nobody', auth: `Bearer ${TOKEN}`, status: 404, code: 'SOURCE_UNKNOWN' }
  ]
  let n = 0
  for (const c of cases) {
    const headers: Record<string, string> = c.auth === undefined ? {} : { authorization: c.auth }
    const res = await app.inject({
      method: 'POST',
      url: c.url ?? '/webhook',
      headers: { 'content-type': 'application/json', ...headers },
      payload: JSON.stringify(seed({ message_id: `m${n++}` }))
    })
    t.equal(res.statusCode, c.status, `${c.name}: status`)
    t.equal(res.json().code, c.status, `${c.name}: envelope`)
    if (c.code) t.equal(res.headers['x-relay-error'], c.code, `${c.name}: code`)
    if (c.status === 401) t.notMatch(res.body, /test-token|sales-token/, `${c.name}: no token echoed`)
  }
  await app.relay.dispatcher.drain()
  t.equal(
    relay.delivered.length,
    cases.filter(c => c.status === 200).length,
    'only authenticated messages were relayed'
  )
})

t.test('credentials are checked before the body is read', async t => {
  const app = await testApp(t, { relays: new Map([['fake', new FakeRelay()]]) })
  const res = await post(app, '{not json', { authorization: 'Bearer wrong' })
  t.equal(res.statusCode, 401, 'a stranger learns nothing about body parsing')
})

t.test('allowUnauthenticated opens sources without tokens, never those with tokens', async t => {
  const relay = new FakeRelay()
  const app = await testApp(t, {
    relays: new Map([['fake', relay]]),
    config: { auth: { allowUnauthenticated: true, sources: { locked: { tokens: ['locked-token'] } } } }
  })
  t.equal((await post(app, seed({ message_id: 'a' }), { authorization: '' })).statusCode, 200, '/webhook is open')
  t.equal(
    (await post(app, seed({ message_id: 'b' }), { authorization: '' }, '/webhook/anything')).statusCode,
    200,
    'any source name is open'
  )
  t.equal(
    (await post(app, seed({ message_id: 'c' }), { authorization: '' }, '/webhook/locked')).statusCode,
    401,
    'a source with tokens still needs them'
  )
  t.equal(
    (await post(app, seed({ message_id: 'd' }), { authorization: 'Bearer locked-token' }, '/webhook/locked'))
      .statusCode,
    200
  )
  t.equal(
    (await post(app, seed({ message_id: 'e' }), {}, '/webhook/bad%20name')).statusCode,
    404,
    'source names are restricted'
  )
  await app.relay.dispatcher.drain()
  t.same(
    relay.delivered.map(m => m.source),
    ['default', 'anything', 'locked']
  )
})

t.test('with only source tokens, /webhook is closed', async t => {
  const app = await testApp(t, {
    relays: new Map([['fake', new FakeRelay()]]),
    config: { auth: { sources: { s: { tokens: ['s-token'] } } } }
  })
  const res = await post(app, seed(), { authorization: 'Bearer s-token' })
  t.equal(res.statusCode, 401)
  t.match(res.json().msg, /\/webhook has no tokens configured/)
})
