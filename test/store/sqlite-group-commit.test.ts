import { join } from 'node:path'
import Database from 'better-sqlite3'
import t from 'tap'
import type { RelayMessage } from '../../src/message.js'
import { SqliteStore } from '../../src/store/sqlite.js'
import { claim, message } from './fixtures/store.js'

// The SQLite store commits every write of one event-loop turn together (one fsync for many).
// These protect what that sharing must not change.

t.test('a write that fails in a shared commit fails alone', async t => {
  const path = join(t.testdir(), 'relay.db')
  const store = new SqliteStore({ path })
  t.teardown(() => store.close())
  const first = message({ conversationId: 'a' })
  const third = message({ conversationId: 'b' })
  // NOT NULL on conversation_id: this insert fails inside the transaction the others share.
  const broken = message({ conversationId: null as unknown as string })
  const [one, two, three] = await Promise.allSettled([store.accept(first, ['slack']), store.accept(broken, ['slack']), store.accept(third, ['slack'])])
  t.equal(one.status, 'fulfilled')
  t.equal(two.status, 'rejected')
  t.match((two as PromiseRejectedResult).reason, { code: 'SQLITE_CONSTRAINT_NOTNULL' })
  t.equal(three.status, 'fulfilled')
  t.strictSame(await store.pendingByRelay(), { slack: 2 }, 'the others are stored, the broken one left nothing behind')
  t.strictSame((await claim(store)).map(l => l.conversationId).sort(), ['a', 'b'])
})

t.test('writes of one turn keep their order and are on disk once they resolve', async t => {
  const path = join(t.testdir(), 'relay.db')
  const store = new SqliteStore({ path })
  const messages: RelayMessage[] = Array.from({ length: 50 }, () => message())
  const results = await Promise.all(messages.map(m => store.accept(m, ['slack'])))
  const seqs = results.map(r => r.seq!)
  t.strictSame(seqs, [...seqs].sort((a, b) => a - b), 'seq follows the order of the calls')
  // A lease-only commit in between must not leave the connection without its fsync.
  const [lane] = await claim(store)
  await store.releaseLane(lane!.id, 'bench')
  await store.close()
  const db = new Database(path, { readonly: true })
  t.teardown(() => db.close())
  const ids = db.prepare('SELECT message_id FROM messages ORDER BY seq').pluck().all()
  t.strictSame(ids, messages.map(m => m.messageId))
})

t.test('leases alone are committed without changing the durability of what follows', async t => {
  const path = join(t.testdir(), 'relay.db')
  const store = new SqliteStore({ path })
  t.teardown(() => store.close())
  await store.accept(message(), ['slack'])
  const [lane] = await claim(store)
  await store.releaseLane(lane!.id, 'owner')
  const synchronous = (store as unknown as { db: Database.Database }).db.pragma('synchronous', { simple: true })
  t.equal(synchronous, 2, 'back to FULL after a lease-only commit')
})
