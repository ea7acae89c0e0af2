import { join } from 'node:path'
import Database from 'better-sqlite3'
import t from 'tap'
import { SqliteStore } from '../../src/store/sqlite.js'
import { claim, message, T } from './fixtures/store.js'
import { finishAndNext, headOf } from '../helpers/outbox-steps.js'

// Every accept and every outcome writes each index of the outbox, so the SQLite store keeps few.
// These check that the admin listings still find their rows through an index, not a table scan.

const indexesOf = (path: string): string[] => {
  const db = new Database(path, { readonly: true })
  try {
    return db
      .prepare(
        `SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'deliveries' AND sql IS NOT NULL ORDER BY name`
      )
      .pluck()
      .all() as string[]
  } finally {
    db.close()
  }
}

t.test('a store made by an earlier version loses the indexes only the admin read', async t => {
  const path = join(t.testdir(), 'relay.db')
  await new SqliteStore({ path }).close()
  const old = new Database(path)
  // A file of that version had these indexes and no record of schema versions.
  old.exec(
    'CREATE INDEX deliveries_lane_status ON deliveries (lane_id, status); CREATE INDEX deliveries_status ON deliveries (status, relay)'
  )
  old.exec('DROP TABLE schema_migrations')
  old.close()
  await new SqliteStore({ path }).close()
  t.strictSame(indexesOf(path), ['deliveries_dead', 'deliveries_pending', 'deliveries_seq'])
})

t.test("dead letters and a conversation's deliveries are listed through an index", async t => {
  const path = join(t.testdir(), 'relay.db')
  const store = new SqliteStore({ path })
  t.teardown(() => store.close())
  for (let i = 0; i < 30; i++) await store.accept(message({ conversationId: `c${i % 3}` }), ['slack'])
  for (const lane of await claim(store)) {
    const head = await headOf(store, lane.id)
    await finishAndNext(store, head!, { status: 'dead', error: 'gone' }, 'a', T)
  }
  const dead = await store.listDeliveries({ status: 'dead', limit: 10 })
  t.strictSame(
    dead.map(d => d.status),
    ['dead', 'dead', 'dead']
  )
  const c1 = await store.listDeliveries({ source: 'default', conversationId: 'c1', limit: 100 })
  t.equal(c1.length, 10)
  t.ok(c1.every(d => d.conversationId === 'c1'))
  t.strictSame(
    c1.map(d => d.id),
    [...c1.map(d => d.id)].sort((a, b) => a - b),
    'in id order'
  )

  const db = (store as unknown as { db: Database.Database }).db
  const q = (store as unknown as { q: Record<string, Database.Statement> }).q
  const plan = (statement: Database.Statement) =>
    (
      db.prepare(`EXPLAIN QUERY PLAN ${statement.source}`).all({
        afterId: 0,
        limit: 10,
        status: null,
        relay: null,
        source: 'default',
        conversationId: 'c1',
        seqFrom: 1,
        seqTo: 5
      }) as { detail: string }[]
    )
      .map(r => r.detail)
      .join('; ')
  t.match(plan(q.listDead!), /USING INDEX deliveries_dead/)
  t.match(plan(q.listConversation!), /USING (COVERING )?INDEX messages_conversation/)
  t.notMatch(plan(q.listConversation!), /SCAN d\b/)
})
