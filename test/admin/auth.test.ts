import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pino } from 'pino'
import t from 'tap'
import { buildApp } from '../../src/app.js'
import { loadConfigFile } from '../../src/config/load.js'
import { TokenSet } from '../../src/intake/auth.js'
import { isAdmin } from '../../src/admin/auth.js'
import { TOKEN, testApp } from '../helpers/app.js'

const ADMIN = 'admin-token-0123456789'
const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

/** One request per admin route, the way a client would send each. */
const routes = [
  { method: 'GET', url: '/admin/conversations' },
  { method: 'GET', url: '/admin/conversations/default/c1/messages' },
  { method: 'GET', url: '/admin/dead-letters' },
  { method: 'POST', url: '/admin/dead-letters/1/replay' },
  { method: 'POST', url: '/admin/dead-letters/replay', payload: { relay: 'console' } },
  { method: 'DELETE', url: '/admin/dead-letters/1' },
  { method: 'POST', url: '/admin/conversations/default/c1/replay', payload: { relay: 'console' } },
  { method: 'POST', url: '/admin/reload' }
] as const

t.test('isAdmin takes only Bearer with the exact token', async t => {
  const set = new TokenSet([ADMIN])
  t.ok(isAdmin(`Bearer ${ADMIN}`, set))
  t.ok(isAdmin(`bearer   ${ADMIN} `, set), 'scheme is case-insensitive, spaces are trimmed')
  t.notOk(isAdmin(undefined, set))
  t.notOk(isAdmin('', set))
  t.notOk(isAdmin(`Basic ${ADMIN}`, set), 'Basic is a webhook form, not an admin one')
  t.notOk(isAdmin(`Bearer ${ADMIN}x`, set))
  t.notOk(isAdmin(`Bearer ${ADMIN.slice(0, -1)}`, set))
  t.notOk(isAdmin(`Bearer ${ADMIN} extra`, set))
})

t.test('without admin.token every admin route answers ADMIN_DISABLED, even with a token', async t => {
  const app = await testApp(t)
  for (const route of routes) {
    const res = await app.inject({ ...route, headers: bearer(ADMIN) })
    t.equal(res.statusCode, 404, `${route.method} ${route.url}`)
    t.equal(res.headers['x-relay-error'], 'ADMIN_DISABLED')
    t.same(res.json(), { code: 404, msg: 'the admin API is disabled: set admin.token in the config to enable it' })
  }
})

t.test('with admin.token: no token, a webhook token or a wrong token is ADMIN_AUTH on every route', async t => {
  const app = await testApp(t, { config: { admin: { token: ADMIN } } })
  for (const route of routes) {
    for (const headers of [
      {},
      bearer(TOKEN),
      { authorization: `Basic ${ADMIN}` },
      bearer('admin-token-wrong-000000')
    ]) {
      const res = await app.inject({ ...route, headers })
      t.equal(res.statusCode, 401, `${route.method} ${route.url} ${JSON.stringify(headers)}`)
      t.equal(res.headers['x-relay-error'], 'ADMIN_AUTH')
      t.equal(res.json().code, 401)
    }
  }
  const ok = await app.inject({ method: 'GET', url: '/admin/dead-letters', headers: bearer(ADMIN) })
  t.equal(ok.statusCode, 200, ok.body)
  t.same(ok.json(), { deadLetters: [] })
})

t.test('the admin token does not open the webhook', async t => {
  const app = await testApp(t, { config: { admin: { token: ADMIN } } })
  const res = await app.inject({
    method: 'POST',
    url: '/webhook',
    headers: { ...bearer(ADMIN), 'content-type': 'application/json' },
    payload: '{}'
  })
  t.equal(res.statusCode, 401)
  t.equal(res.headers['x-relay-error'], 'AUTH_INVALID')
})

t.test('bad input is a 400 envelope that names the field, checked after the token', async t => {
  const app = await testApp(t, { config: { admin: { token: ADMIN } } })
  const cases = [
    { method: 'GET', url: '/admin/dead-letters?limit=0', msg: /^query\/limit must be at least 1$/ },
    {
      method: 'GET',
      url: '/admin/dead-letters?limit=many',
      msg: /^query\/limit must be an integer in plain decimal digits, e.g. 42 \(got "many"\)$/
    },
    { method: 'GET', url: '/admin/dead-letters?colour=red', msg: /^query\/colour is not a known field$/ },
    { method: 'GET', url: '/admin/conversations?before=1700000000000', msg: /^query\/before is not a known field$/ },
    { method: 'GET', url: '/admin/conversations?after=', msg: /^query\/after must not be empty$/ },
    {
      method: 'POST',
      url: '/admin/dead-letters/abc/replay',
      msg: /^params\/id must be an integer in plain decimal digits, e.g. 42 \(got "abc"\)$/
    },
    { method: 'DELETE', url: '/admin/dead-letters/0', msg: /^params\/id must be at least 1$/ },
    { method: 'POST', url: '/admin/dead-letters/replay', payload: {}, msg: /^body\/relay is required$/ },
    {
      method: 'POST',
      url: '/admin/dead-letters/replay',
      payload: { relay: 'console', extra: 1 },
      msg: /^body\/extra is not a known field$/
    },
    {
      method: 'POST',
      url: '/admin/dead-letters/replay',
      payload: { relay: 'console', conversationId: 'c1' },
      msg: /body\/source is required with body\/conversationId/
    },
    {
      method: 'POST',
      url: '/admin/conversations/default/c1/replay',
      payload: { relay: 7 },
      msg: /^body\/relay must be a string$/
    }
  ] as const
  for (const { msg, ...request } of cases) {
    const res = await app.inject({ ...request, headers: bearer(ADMIN) })
    t.equal(res.statusCode, 400, `${request.method} ${request.url}: ${res.body}`)
    t.equal(res.headers['x-relay-error'], 'REQUEST_INVALID')
    t.match(res.json(), { code: 400, msg })
  }
  const noBody = await app.inject({ method: 'POST', url: '/admin/dead-letters/replay', headers: bearer(ADMIN) })
  t.equal(noBody.statusCode, 400, noBody.body)
  const text = await app.inject({
    method: 'POST',
    url: '/admin/dead-letters/replay',
    headers: { ...bearer(ADMIN), 'content-type': 'text/plain' },
    payload: 'relay=console'
  })
  t.equal(text.statusCode, 415)
  const unauthenticatedBad = await app.inject({ method: 'GET', url: '/admin/dead-letters?limit=0' })
  t.equal(unauthenticatedBad.statusCode, 401, 'strangers learn nothing about the schema')
})

t.test('reload: 501 when the runtime cannot reload, its result or a 500 envelope when it can', async t => {
  const app = await testApp(t, { config: { admin: { token: ADMIN } } })
  app.relay.reload = undefined
  const unsupported = await app.inject({ method: 'POST', url: '/admin/reload', headers: bearer(ADMIN) })
  t.equal(unsupported.statusCode, 501)
  t.equal(unsupported.headers['x-relay-error'], 'RELOAD_UNSUPPORTED')

  let outcome: { ok: boolean; message: string } | Error = { ok: true, message: 'reloaded: 1 relay(s)' }
  app.relay.reload = async () => {
    if (outcome instanceof Error) throw outcome
    return outcome
  }
  const ok = await app.inject({ method: 'POST', url: '/admin/reload', headers: bearer(ADMIN) })
  t.equal(ok.statusCode, 200)
  t.same(ok.json(), { ok: true, message: 'reloaded: 1 relay(s)' })

  outcome = { ok: false, message: 'relays.slack.channel is required' }
  const refused = await app.inject({ method: 'POST', url: '/admin/reload', headers: bearer(ADMIN) })
  t.equal(refused.statusCode, 500)
  t.equal(refused.headers['x-relay-error'], 'RELOAD_FAILED')
  t.same(refused.json(), { code: 500, msg: 'relays.slack.channel is required' })

  outcome = new Error('config file vanished')
  const thrown = await app.inject({ method: 'POST', url: '/admin/reload', headers: bearer(ADMIN) })
  t.equal(thrown.statusCode, 500)
  t.match(thrown.json().msg, /reload failed: config file vanished; the running config is unchanged/)
})

t.test('a config reload that changes admin.token takes effect on the next request', async t => {
  const dir = t.testdir({})
  const file = join(dir, 'relay.json')
  const config = (admin: object) =>
    JSON.stringify({
      auth: { tokens: [TOKEN] },
      store: { driver: 'sqlite', path: join(dir, 'relay.db') },
      relays: { c: { type: 'console' } },
      admin
    })
  writeFileSync(file, config({ token: ADMIN }))
  const app = await buildApp({
    loaded: loadConfigFile(file, {}),
    logger: pino({ level: 'silent' }),
    dispatch: 'manual'
  })
  t.teardown(() => app.close())
  const next = 'next-admin-token-0123456789'
  writeFileSync(file, config({ token: next }))
  const reload = await app.inject({ method: 'POST', url: '/admin/reload', headers: bearer(ADMIN) })
  t.equal(reload.statusCode, 200, reload.body)
  t.match(
    reload.json(),
    { ok: true, message: /config reloaded/, changed: { admin: true } },
    "the reloader's details come through"
  )
  t.equal(
    (await app.inject({ method: 'GET', url: '/admin/dead-letters', headers: bearer(ADMIN) })).statusCode,
    401,
    'the old token is refused'
  )
  t.equal((await app.inject({ method: 'GET', url: '/admin/dead-letters', headers: bearer(next) })).statusCode, 200)

  writeFileSync(file, config({}))
  t.equal((await app.inject({ method: 'POST', url: '/admin/reload', headers: bearer(next) })).statusCode, 200)
  const disabled = await app.inject({ method: 'GET', url: '/admin/dead-letters', headers: bearer(next) })
  t.equal(disabled.headers['x-relay-error'], 'ADMIN_DISABLED', 'removing the token disables the API')
})
