import t from 'tap'
import { testApp } from '../helpers/app.js'
import { postgresOrSkip } from '../helpers/postgres.js'
import { ADMIN_TOKEN, ManualTimers, signIn } from './helpers.js'

// Two replicas behind a balancer share a store, not a process: a session opened on one must open
// pages on the other, survive a restart, and a sign-out on either must end it on both.

// Replicas share a PostgreSQL store (one SQLite file serves one process).
const db = await postgresOrSkip(t)

const replica = (t: Parameters<typeof testApp>[0], schema: string, token = ADMIN_TOKEN) =>
  testApp(t, {
    config: { admin: { token }, store: { driver: 'postgres', url: db!.url, schema } },
    ui: { timers: new ManualTimers() }
  })

const form = (csrf: string, cookie: string) => ({
  headers: {
    'content-type': 'application/x-www-form-urlencoded',
    host: 'localhost:80',
    origin: 'http://localhost:80',
    'sec-fetch-site': 'same-origin',
    cookie
  },
  payload: new URLSearchParams({ csrf }).toString()
})

if (db)
  t.test('a session works on every replica on one store and after a restart; sign-out ends it on all', async t => {
    const schema = await db!.schema(t)
    const a = await replica(t, schema)
    const b = await replica(t, schema)
    const page = (app: typeof a, cookie: string) => app.inject({ method: 'GET', url: '/ui', headers: { cookie } })

    const alice = await signIn(a)
    t.ok(alice.session, 'signed in on replica A')
    t.equal((await page(b, alice.cookie)).statusCode, 200, 'replica B knows the session')
    const onB = /name="csrf" value="([^"]+)"/.exec((await page(b, alice.cookie)).body)?.[1]
    t.equal(onB, alice.csrf, 'and the same CSRF token, so a form from one replica posts to the other')

    await a.close()
    const restarted = await replica(t, schema)
    t.equal((await page(restarted, alice.cookie)).statusCode, 200, 'a restart signs nobody out')

    const bob = await signIn(restarted)
    const out = await b.inject({ method: 'POST', url: '/ui/logout', ...form(bob.csrf!, bob.cookie) })
    t.equal(out.statusCode, 303, 'Bob signs out on replica B')
    t.equal((await page(restarted, bob.cookie)).statusCode, 303, 'and his cookie opens nothing on the other replica')
    t.equal((await page(b, bob.cookie)).statusCode, 303)
    t.equal((await page(restarted, alice.cookie)).statusCode, 200, 'Alice is still signed in')

    const forged = alice.cookie.replace(/.$/, c => (c === 'A' ? 'B' : 'A'))
    t.equal((await page(b, forged)).statusCode, 303, 'a cookie changed by one character opens nothing')
    const other = await replica(t, await db!.schema(t))
    t.equal((await page(other, alice.cookie)).statusCode, 200, 'another store with the same admin token: still valid')
    const rekeyed = await replica(t, schema, 'another-admin-token-0123')
    t.equal((await page(rekeyed, alice.cookie)).statusCode, 303, 'a relay with another admin token: not')
  })
