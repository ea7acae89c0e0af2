import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import t from 'tap'
import { SqliteStore } from '../../src/store/sqlite.js'
import { sqliteSchemaVersion } from '../../src/store/sqlite-schema.js'
import { deliverAll, message, T } from './fixtures/store.js'
import { claimLanes } from '../helpers/outbox-steps.js'

// A store written before the SQLite schema had versions (main at 4c2a825), with data in every
// state: see fixtures/make-sqlite-v0.ts for how the SQL was made.
const v0 = readFileSync(new URL('./fixtures/sqlite-v0.sql', import.meta.url), 'utf8')

const fromV0 = (dir: string, name = 'relay.db'): string => {
  const path = join(dir, name)
  const db = new Database(path)
  db.exec(v0)
  db.close()
  return path
}

const read = <R>(path: string, sql: string): R[] => {
  const db = new Database(path, { readonly: true })
  try {
    return db.prepare(sql).all() as R[]
  } finally {
    db.close()
  }
}

const schemaOf = (path: string) =>
  read<{ type: string; name: string; sql: string | null }>(
    path,
    `SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name`
  )

const versionsOf = (path: string) => read(path, 'SELECT version, name FROM schema_migrations ORDER BY version')

t.test('a store made before schema versions keeps its data and goes on delivering', async t => {
  const path = fromV0(t.testdir())
  const store = new SqliteStore({ path })

  const log = await store.listDeliveries({})
  t.strictSame(
    log.map(d => [d.id, d.relay, d.messageId, d.status, d.attempts, d.lastError, d.posted]),
    [
      [1, 'slack', 'c1-1', 'delivered', 1, undefined, { id: '1700000000.000100', channel: 'C1' }],
      [2, 'discord', 'c1-1', 'pending', 0, undefined, undefined],
      [3, 'slack', 'c1-2', 'dead', 1, 'channel_not_found', undefined],
      [4, 'discord', 'c1-2', 'pending', 0, undefined, undefined],
      [5, 'slack', 'c1-3', 'pending', 1, 'rate limited', undefined],
      [6, 'discord', 'c1-3', 'pending', 0, undefined, undefined],
      [7, 'slack', 'c1-4', 'pending', 0, undefined, undefined],
      [8, 'discord', 'c1-4', 'pending', 0, undefined, undefined],
      [9, 'slack', 'c2-1', 'pending', 0, undefined, undefined]
    ],
    'every delivery, as it was'
  )
  t.strictSame(await store.backlog(), {
    pendingByRelay: { slack: 3, discord: 4 },
    deadByRelay: { slack: 1 },
    oldestPendingAt: T + 1,
    oldestPendingByRelay: { discord: T + 1, slack: T + 3 }
  })
  t.strictSame(await store.stateGet('slack', 'default', 'c1', 'thread'), { ts: '1700000000.000100' })
  t.equal(await store.stateGet('discord', 'default', 'c1', 'thread'), null, 'a stored null stays null')
  t.equal(await store.stateGet('slack', 'default', 'c2', 'thread'), undefined)
  t.strictSame(
    (await store.listConversations({})).map(c => [c.conversationId, c.messages]),
    [
      ['c3', 1],
      ['c2', 1],
      ['c1', 4]
    ]
  )

  t.strictSame(
    await store.accept(message({ messageId: 'c1-1', receivedAt: T + 20 }), ['slack']),
    { duplicate: true },
    'what was accepted before is still a duplicate'
  )
  const accepted = await store.accept(message({ messageId: 'c1-5', receivedAt: T + 20 }), ['slack', 'discord'])
  t.equal(accepted.duplicate, false)
  t.ok(accepted.seq! > 6, 'seqs go on after the stored ones')

  // The retried lane waits for its due time; the others are due.
  const early = await claimLanes(store, {
    owner: 'new',
    now: T + 30,
    limit: 10,
    leaseMs: 60_000,
    relays: ['slack', 'discord']
  })
  t.strictSame(early.map(l => [l.relay, l.conversationId]).sort(), [
    ['discord', 'c1'],
    ['slack', 'c2']
  ])
  t.strictSame(await deliverAll(store, early.find(l => l.relay === 'discord')!.id), [
    'c1-1',
    'c1-2',
    'c1-3',
    'c1-4',
    'c1-5'
  ])
  t.equal(await store.replayDead({ relay: 'slack' }, T + 40), 1, 'the dead letter revives')
  const [slack] = await claimLanes(store, {
    owner: 'new',
    now: T + 60_000,
    limit: 10,
    leaseMs: 60_000,
    relays: ['slack']
  })
  t.strictSame(
    await deliverAll(store, slack!.id),
    ['c1-2', 'c1-3', 'c1-4', 'c1-5'],
    'in order, the revived letter first'
  )
  await store.close()
  t.strictSame(versionsOf(path), [
    { version: 1, name: 'outbox' },
    { version: 2, name: 'delivery attempts' },
    { version: 3, name: 'backfill' }
  ])
})

t.test('a fresh store and an upgraded one end with the same schema', async t => {
  const dir = t.testdir()
  const fresh = join(dir, 'fresh.db')
  await new SqliteStore({ path: fresh }).close()
  const upgraded = fromV0(dir)
  await new SqliteStore({ path: upgraded }).close()
  const schema = schemaOf(fresh)
  t.ok(schema.some(o => o.name === 'schema_migrations'))
  t.ok(schema.some(o => o.name === 'deliveries_dead'))
  t.strictSame(schemaOf(upgraded), schema)
  t.strictSame(versionsOf(upgraded), versionsOf(fresh))
  t.equal(sqliteSchemaVersion, 3)

  // Opening again changes nothing.
  await new SqliteStore({ path: upgraded }).close()
  t.strictSame(schemaOf(upgraded), schema)
  t.strictSame(versionsOf(upgraded), [
    { version: 1, name: 'outbox' },
    { version: 2, name: 'delivery attempts' },
    { version: 3, name: 'backfill' }
  ])
})

// Later steps add what the file before versions did not have: the attempts history, the backfill tables.
t.test('today’s schema is the schema before versions, plus the record of them and later steps', async t => {
  const dir = t.testdir()
  const fresh = join(dir, 'fresh.db')
  await new SqliteStore({ path: fresh }).close()
  const before = fromV0(dir, 'before.db')
  t.strictSame(
    schemaOf(fresh).filter(
      o =>
        !['schema_migrations', 'backfills', 'backfills_created', 'leases'].includes(o.name) &&
        !/^sqlite_autoindex_(schema|backfills|leases)/.test(o.name) &&
        !o.name.startsWith('delivery_attempt')
    ),
    schemaOf(before)
  )
})

t.test('a file from a newer relay is refused, and left as it is', async t => {
  const path = join(t.testdir(), 'relay.db')
  await new SqliteStore({ path }).close()
  const db = new Database(path)
  db.prepare(`INSERT INTO schema_migrations (version, name) VALUES (99, 'future')`).run()
  db.close()
  t.throws(() => new SqliteStore({ path }), /schema version 99, newer than this relay knows \(3\)/)
  t.strictSame(
    versionsOf(path).map(v => (v as { version: number }).version),
    [1, 2, 3, 99]
  )
})
