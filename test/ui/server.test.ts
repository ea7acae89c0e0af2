import { request as httpRequest, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { delivered, type Relay } from '../../src/relays/types.js'
import { post, seed, testApp } from '../helpers/app.js'
import { until } from '../helpers/process.js'
import { ADMIN_TOKEN, ManualTimers, setCookies, signIn } from './helpers.js'

const LIVE_MS = 1234
const SAMPLE_MS = 4321

async function dashboardApp(t: Parameters<typeof testApp>[0], timers = new ManualTimers(), config: object = {}) {
  const app = await testApp(t, {
    config: { admin: { token: ADMIN_TOKEN, ...config } },
    ui: { timers, liveIntervalMs: LIVE_MS, sampleIntervalMs: SAMPLE_MS }
  })
  return Object.assign(app, { timers })
}

const form = (fields: Record<string, string>, headers: Record<string, string> = {}) => ({
  headers: {
    'content-type': 'application/x-www-form-urlencoded',
    host: 'localhost:80',
    origin: 'http://localhost:80',
    'sec-fetch-site': 'same-origin',
    ...headers
  },
  payload: new URLSearchParams(fields).toString()
})

t.test('without admin.token the dashboard is off, like the admin API', async t => {
  const app = await testApp(t)
  const res = await app.inject({ method: 'GET', url: '/ui/login' })
  t.equal(res.statusCode, 404)
  t.equal(res.headers['x-relay-error'], 'ADMIN_DISABLED')
})

t.test('signing in: a strict CSP on every page, the token only in a POST body, a strict session cookie', async t => {
  const app = await dashboardApp(t)
  const login = await app.inject({ method: 'GET', url: '/ui/login' })
  t.equal(login.statusCode, 200)
  t.match(login.headers['content-security-policy'], /default-src 'none'; script-src 'self'; style-src 'self'/)
  t.notMatch(login.headers['content-security-policy'], /unsafe-inline|unsafe-eval/)
  t.equal(login.headers['x-frame-options'], 'DENY')
  t.match(login.body, /<form method="post" action="\/ui\/login"/)
  t.notMatch(login.body, /<script>|style="/, 'no inline script or style')

  const redirected = await app.inject({ method: 'GET', url: '/ui' })
  t.equal(redirected.statusCode, 303, 'a page without a session sends the browser to sign in')
  t.equal(redirected.headers.location, '/ui/login')

  const wrong = await signIn(app, 'not-the-admin-token-at-all')
  t.equal(wrong.res.statusCode, 401)
  t.equal(wrong.res.headers['x-relay-error'], 'ADMIN_AUTH')
  t.equal(wrong.session, undefined, 'no session for a wrong token')

  const ok = await signIn(app)
  t.equal(ok.res.statusCode, 303)
  t.equal(ok.res.headers.location, '/ui', 'the token never goes into a URL')
  const cookie = setCookies(ok.res.headers).get('gptbots_relay_ui')!
  t.match(cookie, /HttpOnly/)
  t.match(cookie, /SameSite=Strict/)
  t.match(cookie, /Path=\/ui/)
  t.notMatch(cookie, /Secure/, 'plain HTTP: a Secure cookie would never come back')
  t.ok(ok.csrf, 'pages carry the CSRF token in their forms')
  const overview = await app.inject({ method: 'GET', url: '/ui', headers: { cookie: ok.cookie } })
  t.equal(overview.statusCode, 200)
  t.match(overview.body, /<h1>Overview<\/h1>/)
  t.notMatch(overview.body, new RegExp(ADMIN_TOKEN), 'the token is not in the page')

  const forged = await app.inject({
    method: 'POST',
    url: '/ui/login',
    ...form({ nonce: 'made-up', token: ADMIN_TOKEN }, { cookie: 'gptbots_relay_login=other' })
  })
  t.equal(forged.statusCode, 403, 'a sign-in posted without the form’s own nonce is refused')
  t.equal(forged.headers['x-relay-error'], 'UI_CSRF')
})

t.test('Secure cookies behind HTTPS: X-Forwarded-Proto counts only when admin.trustForwardedProto is set', async t => {
  const untrusting = await dashboardApp(t)
  const spoofed = await untrusting.inject({
    method: 'GET',
    url: '/ui/login',
    headers: { 'x-forwarded-proto': 'https' }
  })
  t.notMatch(setCookies(spoofed.headers).get('gptbots_relay_login')!, /Secure/)

  const trusting = await dashboardApp(t, new ManualTimers(), { trustForwardedProto: true })
  const proxied = await trusting.inject({ method: 'GET', url: '/ui/login', headers: { 'x-forwarded-proto': 'https' } })
  t.match(setCookies(proxied.headers).get('gptbots_relay_login')!, /Secure/)
})

t.test('every action wants the session’s CSRF token and a same-origin request', async t => {
  const app = await dashboardApp(t)
  const { cookie, csrf } = await signIn(app)
  const cases: [string, Record<string, string>, Record<string, string>][] = [
    ['no token', {}, {}],
    ['a wrong token', { csrf: 'x'.repeat(43) }, {}],
    ['another origin', { csrf: csrf! }, { origin: 'http://evil.example', 'sec-fetch-site': 'cross-site' }],
    ['a cross-site fetch', { csrf: csrf! }, { 'sec-fetch-site': 'cross-site' }]
  ]
  for (const [name, fields, headers] of cases) {
    const res = await app.inject({ method: 'POST', url: '/ui/logout', ...form(fields, { cookie, ...headers }) })
    t.equal(res.statusCode, 403, name)
    t.equal(res.headers['x-relay-error'], 'UI_CSRF', name)
  }
  const still = await app.inject({ method: 'GET', url: '/ui', headers: { cookie } })
  t.equal(still.statusCode, 200, 'the refused sign-outs did nothing')

  const out = await app.inject({ method: 'POST', url: '/ui/logout', ...form({ csrf: csrf! }, { cookie }) })
  t.equal(out.statusCode, 303)
  t.equal(out.headers.location, '/ui/login')
  t.match(setCookies(out.headers).get('gptbots_relay_ui')!, /Expires=Thu, 01 Jan 1970/)
  const after = await app.inject({ method: 'GET', url: '/ui', headers: { cookie } })
  t.equal(after.statusCode, 303, 'the old cookie opens nothing any more')
})

t.test('a reload that changes admin.token ends the sessions opened with the old one', async t => {
  const app = await dashboardApp(t)
  const { cookie } = await signIn(app)
  app.relay.config = { ...app.relay.config, admin: { ...app.relay.config.admin, token: 'a-brand-new-admin-token-42' } }
  const res = await app.inject({ method: 'GET', url: '/ui', headers: { cookie } })
  t.equal(res.statusCode, 303)
})

t.test('hostile ids and texts come out as text', async t => {
  const app = await dashboardApp(t)
  const { cookie } = await signIn(app)
  const evilId = '"><script>alert(1)</script><img src=x onerror=alert(2)>'
  const evilText = '<b>bold</b><script>alert(3)</script><style>body{display:none}</style>'
  t.equal((await post(app, seed({ conversation_id: evilId, text: evilText }))).statusCode, 200)
  const list = await app.inject({ method: 'GET', url: '/ui/conversations', headers: { cookie } })
  t.notMatch(list.body, /<script>alert|<img src=x/)
  t.match(list.body, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/)
  const one = await app.inject({
    method: 'GET',
    url: `/ui/conversation?${new URLSearchParams({ source: 'default', id: evilId })}`,
    headers: { cookie }
  })
  t.equal(one.statusCode, 200)
  t.notMatch(one.body, /<script>alert|<b>bold|<style>body/)
  t.match(one.body, /&lt;b&gt;bold&lt;\/b&gt;/)
})

t.test('the conversations page filters in the store query: one page, however few match', async t => {
  const app = await dashboardApp(t)
  const { cookie } = await signIn(app)
  for (const [i, id] of ['alpha-1', 'beta-2', 'ALPHA-3'].entries())
    t.equal(
      (await post(app, seed({ conversation_id: id, message_id: `65a4ccfC7ce58e728d5897e${i}`, text: `hi ${id}` })))
        .statusCode,
      200
    )
  const list = (query: string) => app.inject({ method: 'GET', url: `/ui/conversations?${query}`, headers: { cookie } })
  const found = await list('q=alpha')
  t.equal(found.statusCode, 200)
  t.match(found.body, /alpha-1/)
  t.match(found.body, /ALPHA-3/)
  t.notMatch(found.body, /beta-2/)
  const none = await list('relay=no-such-relay')
  t.equal(none.statusCode, 200)
  t.notMatch(none.body, /alpha-1|beta-2/)
  t.notMatch(none.body, /Search further|Searched/, 'no scanning in memory any more')
})

t.test('the conversation page links each delivery to its post, inert and without an opener', async t => {
  const links = ['https://discord.com/channels/1/2/3', 'javascript:alert(1)']
  let n = 0
  const linking: Relay = { deliver: async () => delivered({ link: links[n++ % links.length] }) }
  const app = await testApp(t, {
    config: { admin: { token: ADMIN_TOKEN } },
    ui: { timers: new ManualTimers() },
    relays: new Map([['linking', linking]])
  })
  const { cookie } = await signIn(app)
  for (const [i, text] of ['first', 'second'].entries())
    await post(app, seed({ conversation_id: 'linked', message_id: `65a4ccfC7ce58e728d5897f${i}`, text }))
  await app.relay.dispatcher.drain()
  const one = await app.inject({
    method: 'GET',
    url: `/ui/conversation?${new URLSearchParams({ source: 'default', id: 'linked' })}`,
    headers: { cookie }
  })
  t.equal(one.statusCode, 200)
  t.match(
    one.body,
    /<a href="https:\/\/discord\.com\/channels\/1\/2\/3" rel="noopener noreferrer" target="_blank">view post<\/a>/
  )
  // The web link shows twice, on its delivery and in its history; the other one nowhere.
  t.equal(one.body.match(/view post/g)?.length, 2, 'a link that is no web address is not shown')
  t.notMatch(one.body, /javascript:/)
})

/** Whether a promise settles within a bound: it turns a hang into a failure rather than a tap timeout. */
const within = (promise: Promise<unknown>, ms = 10_000) =>
  Promise.race([
    promise.then(() => true),
    new Promise<boolean>(resolve => setTimeout(() => resolve(false), ms).unref())
  ])

/** An event stream on a real socket, with what has come through it so far. */
function openStream(port: number, cookie: string) {
  return new Promise<{ res: IncomingMessage; text: () => string; ended: Promise<void> }>((resolve, reject) => {
    const req = httpRequest({ port, host: '127.0.0.1', path: '/ui/events', headers: { cookie } }, res => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', chunk => {
        text += chunk
      })
      const ended = new Promise<void>(done => res.on('close', () => done()))
      resolve({ res, text: () => text, ended })
    })
    req.on('error', reject)
    req.end()
  })
}

t.test('live updates: one shared poll for every page, streams end on sign-out and close, no timer left', async t => {
  const app = await dashboardApp(t)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  t.equal(app.timers.count(SAMPLE_MS), 1, 'the chart samples on one timer')
  t.equal(app.timers.count(LIVE_MS), 0, 'nobody listens: nothing polls the store')

  const anonymous = await openStream(port, '')
  t.equal(anonymous.res.statusCode, 401, 'no stream without a session')
  t.equal(anonymous.res.headers['x-relay-error'], 'UI_SESSION')

  const alice = await signIn(app)
  const bob = await signIn(app)
  const a1 = await openStream(port, alice.cookie)
  const a2 = await openStream(port, alice.cookie)
  const b1 = await openStream(port, bob.cookie)
  t.equal(a1.res.statusCode, 200)
  t.match(a1.res.headers['content-type'], /text\/event-stream/)
  t.match(a1.res.headers['content-security-policy'], /default-src 'none'/)
  t.equal(app.timers.count(LIVE_MS), 1, 'three pages, one poll timer')

  // Count the store's reads of the backlog, the poll's first query.
  let reads = 0
  const backlog = app.relay.store.backlog.bind(app.relay.store)
  app.relay.store.backlog = () => {
    reads++
    return backlog()
  }
  // And the readiness probes, which write to the store.
  let pings = 0
  const ping = app.relay.store.ping.bind(app.relay.store)
  app.relay.store.ping = () => {
    pings++
    return ping()
  }
  // The first stream read its baseline as it opened; a tick while that read runs is skipped.
  await until(() => {
    if (reads < 1) app.timers.fire(LIVE_MS)
    return reads === 1
  })
  t.equal((await post(app, seed({ conversation_id: 'live-1', message_id: 'm-live-1' }))).statusCode, 200)
  app.timers.fire(LIVE_MS)
  t.ok(await until(() => [a1, a2, b1].every(s => /event: change/.test(s.text()))), 'every page hears of the change')
  t.equal(reads, 2, 'one store read per tick, however many pages listen')
  for (let tick = 3; tick <= 11; tick++) {
    // A tick that comes while the last read is still running is skipped: fire until one reads.
    await until(() => {
      if (reads < tick) app.timers.fire(LIVE_MS)
      return reads === tick
    })
  }
  // The baseline read as the first stream opened was the first probe; then every fifth read.
  t.equal(pings, 2, 'readiness (a store write) is probed every fifth tick, not at each: ticks 5 and 10')

  // Bob signs out: his stream ends, Alice's go on.
  const out = await app.inject({
    method: 'POST',
    url: '/ui/logout',
    ...form({ csrf: bob.csrf! }, { cookie: bob.cookie })
  })
  t.equal(out.statusCode, 303)
  t.ok(await within(b1.ended), 'the signed-out page’s stream was closed by the relay')
  t.equal(app.timers.count(LIVE_MS), 1)

  // A page that goes away is forgotten, and the last one stops the poll.
  a1.res.destroy()
  await a1.ended
  await until(() => app.timers.count(LIVE_MS) === 1)
  a2.res.destroy()
  await a2.ended
  t.ok(await until(() => app.timers.count(LIVE_MS) === 0), 'no page left: the poll timer is cleared')

  const again = await openStream(port, alice.cookie)
  t.equal(app.timers.count(LIVE_MS), 1)
  t.ok(await within(app.close()), 'the relay closes with a stream open')
  t.ok(await within(again.ended), 'closing the relay ended the open stream')
  t.equal(app.timers.active.size, 0, 'no timer of the dashboard is left set')
})

t.test('live streams are bounded per session', async t => {
  const timers = new ManualTimers()
  const app = await testApp(t, {
    config: { admin: { token: ADMIN_TOKEN } },
    ui: { timers, liveIntervalMs: LIVE_MS, maxLivePerSession: 2 }
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  const { cookie } = await signIn(app)
  const streams = [await openStream(port, cookie), await openStream(port, cookie)]
  const third = await openStream(port, cookie)
  t.equal(third.res.statusCode, 429)
  t.equal(third.res.headers['x-relay-error'], 'UI_BUSY')
  for (const s of streams) s.res.destroy()
})

t.test('the overview reads intake and 429 counts from the metrics registry, and says n/a without metrics', async t => {
  const app = await dashboardApp(t)
  await post(app, seed({ conversation_id: 'counted', message_id: 'm-counted' }))
  await post(app, seed(), { authorization: 'Bearer wrong-token-0123456789' })
  await post(app, { message_id: 'no-type' })
  const { cookie } = await signIn(app)
  const overview = await app.inject({ method: 'GET', url: '/ui', headers: { cookie } })
  t.match(overview.body, /<dt>AUTH_INVALID<\/dt><dd>1<\/dd>/)
  t.match(overview.body, /<dt>BODY_INVALID<\/dt><dd>1<\/dd>/)
  t.match(overview.body, /<dt>default<\/dt><dd>1<\/dd>/, 'accepted, by source')
  t.match(overview.body, /<th scope="row" class="id">console<\/th>/)
  t.match(overview.body, /data-label="Backlog">1</, 'the stored message waits for the console relay')
  t.match(
    overview.body,
    /data-label="Oldest waiting">\d+ s</,
    "the relay's oldest undelivered message, from the same backlog query as the metrics"
  )

  const plain = await testApp(t, { config: { admin: { token: ADMIN_TOKEN }, metrics: { enabled: false } } })
  const signed = await signIn(plain)
  const bare = await plain.inject({ method: 'GET', url: '/ui', headers: { cookie: signed.cookie } })
  t.equal(bare.statusCode, 200)
  t.match(bare.body, /Metrics are off\./)
  t.match(bare.body, /n\/a/)
})

t.test('conversation ids that look like paths ("..", ".") open their own page', async t => {
  const app = await dashboardApp(t)
  const { cookie } = await signIn(app)
  for (const id of ['..', '.', 'a/../b', '%2e%2e', 'x?y#z']) {
    t.equal(
      (await post(app, seed({ conversation_id: id, message_id: `m-${id}`, text: `text of ${id}` }))).statusCode,
      200
    )
    const res = await app.inject({
      method: 'GET',
      url: `/ui/conversation?${new URLSearchParams({ source: 'default', id })}`,
      headers: { cookie }
    })
    t.equal(res.statusCode, 200, id)
    t.match(res.body, `text of ${id}`.replace(/&/g, '&amp;'), id)
  }
})
