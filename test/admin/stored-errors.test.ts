import Database from 'better-sqlite3'
import t from 'tap'
import { FakeRelay } from '../helpers/fake-relay.js'
import { post, seed, testApp } from '../helpers/app.js'
import { receiver } from '../helpers/receiver.js'

// A delivery error quotes what the other side answered, and receivers and SDKs echo credentials:
// stored errors, and everything the admin API shows, are scrubbed like log lines.

const ADMIN = 'admin-token-0123456789'
const API_KEY = 'receiver-api-key-5f3a9c'
const BOT_TOKEN = 'MTE4NTk2NTI0MzQ1Njc4OTAx.GhXyZw.abcdefghijklmnopqrstuvwxyz0123'
const BEARER = 'xoxb-1234567890-abcdefghijkl'

const admin = (app: Awaited<ReturnType<typeof testApp>>, url: string) =>
  app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${ADMIN}` } })

t.test("a receiver that echoes the http-forwarder's x-api-key: the dead letter does not show it", async t => {
  const hook = await receiver(t, request => ({
    status: 400,
    body: `bad request; you sent x-api-key: ${request.headers['x-api-key']}`
  }))
  const app = await testApp(t, {
    config: {
      admin: { token: ADMIN },
      relays: {
        forward: {
          type: './plugins/http-forwarder',
          url: hook.url,
          secret: 'a-shared-secret-of-enough-length',
          headers: { 'x-api-key': API_KEY }
        }
      }
    }
  })
  t.equal((await post(app, seed({ message_id: 'echo-1' }))).statusCode, 200)
  await app.relay.dispatcher.drain()
  const [stored] = await app.relay.store.listDeliveries({ status: 'dead', limit: 10 })
  t.ok(stored, 'dead-lettered')
  t.match(stored!.lastError, /answered HTTP 400: bad request; you sent x-api-key: \[redacted\]/)
  t.notMatch(stored!.lastError, API_KEY, 'the stored error does not hold the key')
  const res = await admin(app, '/admin/dead-letters')
  t.equal(res.statusCode, 200)
  t.notMatch(res.body, API_KEY)
  t.match(res.body, /\[redacted\]/)
})

t.test(
  'a Discord error echoing `Bot …` and an SDK error quoting a Bearer token: neither is stored or shown',
  async t => {
    const relay = new FakeRelay(message =>
      message.messageId === 'discord'
        ? { status: 'failed', error: `401: Unauthorized (Authorization: Bot ${BOT_TOKEN})` }
        : { status: 'retry', error: `request failed with headers {"authorization":"Bearer ${BEARER}"}` }
    )
    const app = await testApp(t, { relays: new Map([['fake', relay]]), config: { admin: { token: ADMIN } } })
    t.equal((await post(app, seed({ message_id: 'discord', conversation_id: 'c1' }))).statusCode, 200)
    t.equal((await post(app, seed({ message_id: 'sdk', conversation_id: 'c2' }))).statusCode, 200)
    await app.relay.dispatcher.drain()
    const stored = await app.relay.store.listDeliveries({ limit: 10 })
    t.equal(stored.length, 2)
    for (const record of stored) {
      t.notMatch(record.lastError, BOT_TOKEN)
      t.notMatch(record.lastError, BEARER)
      t.match(record.lastError, /\[redacted\]/)
    }
    for (const url of [
      '/admin/dead-letters',
      '/admin/conversations/default/c1/messages',
      '/admin/conversations/default/c2/messages'
    ]) {
      const res = await admin(app, url)
      t.equal(res.statusCode, 200, url)
      t.notMatch(res.body, BOT_TOKEN, url)
      t.notMatch(res.body, BEARER, url)
    }
  }
)

t.test('an error stored unscrubbed (by an older version) is not shown either', async t => {
  const relay = new FakeRelay(() => ({ status: 'failed', error: 'boom' }))
  const first = await testApp(t, { relays: new Map([['fake', relay]]), config: { admin: { token: ADMIN } } })
  t.equal((await post(first, seed({ message_id: 'old' }))).statusCode, 200)
  await first.relay.dispatcher.drain()
  await first.close()
  // What an older version stored: the error as the relay gave it.
  const db = new Database(first.dbPath)
  db.prepare('UPDATE deliveries SET last_error = ?').run(`boom: Authorization: Bot ${BOT_TOKEN}`)
  db.close()
  const app = await testApp(t, {
    relays: new Map([['fake', relay]]),
    config: { admin: { token: ADMIN } },
    dbPath: first.dbPath
  })
  const res = await admin(app, '/admin/dead-letters')
  t.equal(res.statusCode, 200)
  t.match(res.json().deadLetters[0].lastError, /^boom: Authorization: Bot \[redacted\]$/)
  t.notMatch(res.body, BOT_TOKEN)
})
