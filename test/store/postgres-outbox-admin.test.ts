import pg from 'pg'
import t, { type Test } from 'tap'
import { openPostgresStore, type PostgresStore } from '../../src/store/postgres.js'
import { postgresOrSkip, type TestDatabase } from '../helpers/postgres.js'
import { claim, deliverAll, message, recordDead, T } from './fixtures/store.js'
import { headOf } from '../helpers/outbox-steps.js'

/** Admin actions and pruning on PostgreSQL while other replicas work on the same lanes. */
const db = await postgresOrSkip(t)

async function replicas(t: Test, db: TestDatabase): Promise<{ s: string; a: PostgresStore; b: PostgresStore }> {
  const schema = await db.schema(t, { create: false })
  const [a, b] = await Promise.all([1, 2].map(() => openPostgresStore({ url: db.url, schema, poolSize: 4 })))
  t.teardown(async () => {
    await a!.close()
    await b!.close()
  })
  return { s: pg.escapeIdentifier(schema), a: a!, b: b! }
}

/** Waits until some session waits for a lock in a statement that contains `text`. */
async function waitingOnLock(text: string): Promise<void> {
  for (const started = Date.now(); Date.now() - started < 5000; ) {
    const { rowCount } = await db!.query(
      `SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND strpos(query, $1) > 0`,
      [text]
    )
    if (rowCount) return
    await new Promise(resolve => setTimeout(resolve, 20))
  }
  throw new Error(`nobody waited on a lock in "${text}"`)
}

/** Lanes' pending counts must equal their pending deliveries. */
async function countsAgree(t: Test, s: string): Promise<void> {
  const { rows } = await db!.query(`SELECT l.id, l.pending, count(d.id)::int AS actual FROM ${s}.lanes l
    LEFT JOIN ${s}.deliveries d ON d.lane_id = l.id AND d.status = 'pending' GROUP BY l.id HAVING l.pending <> count(d.id)`)
  t.strictSame(rows, [], 'every lane counts exactly its pending deliveries')
}

/** One dead letter at the head of each of `n` conversations, each with one message pending behind it. */
async function deadLetters(store: PostgresStore, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    await store.accept(message({ conversationId: `c${i}` }), ['slack'])
    await store.accept(message({ conversationId: `c${i}` }), ['slack'])
  }
  for (const lane of await claim(store, { owner: 'killer' })) {
    await recordDead(store, (await headOf(store, lane.id))!, 'boom', T + 1)
    await store.releaseLane(lane.id, 'killer')
  }
}

if (db) {
  t.test('replicas replaying the same dead letters at once revive each of them once', async t => {
    const { s, a, b } = await replicas(t, db)
    await deadLetters(a, 20)
    const revived = await Promise.all([
      a.replayDead({ relay: 'slack' }, T + 2),
      b.replayDead({ relay: 'slack' }, T + 2),
      b.replayDead({ relay: 'slack', conversationId: 'c3' }, T + 2)
    ])
    t.equal(
      revived.reduce((x, y) => x + y, 0),
      20,
      `20 in all (${revived.join(' + ')})`
    )
    t.strictSame(await a.pendingByRelay(), { slack: 40 })
    await countsAgree(t, s)
  })

  t.test('a replay waits for the lane row lock, as claiming and accepting take it', async t => {
    const { s, a } = await replicas(t, db)
    await deadLetters(a, 1)
    const holder = await db.client(t)
    await holder.query('BEGIN')
    await holder.query(`SELECT id FROM ${s}.lanes FOR UPDATE`)
    let settled = false
    const replaying = a.replayDead({ relay: 'slack' }, T + 2).finally(() => {
      settled = true
    })
    await waitingOnLock(`${s}.lanes`)
    t.notOk(settled, 'the replay waits')
    await holder.query('COMMIT')
    t.equal(await replaying, 1)
  })

  t.test('accepting into a lane while another replica replays it keeps the count and the order', async t => {
    const { s, a, b } = await replicas(t, db)
    const first = message()
    await a.accept(first, ['slack'])
    const [lane] = await claim(a, { owner: 'killer' })
    await recordDead(a, (await headOf(a, lane!.id))!, 'boom', T + 1)
    await a.releaseLane(lane!.id, 'killer')

    const later = Array.from({ length: 30 }, () => message())
    const accepting = (async () => {
      for (const m of later) await b.accept(m, ['slack'])
    })()
    const replays = (async () => {
      let n = 0
      for (let i = 0; i < 10; i++) {
        n += await a.replayDead({ relay: 'slack' }, T + 2)
        // Dead again, to be replayed again, while messages keep coming.
        const head = await headOf(a, lane!.id)
        if (head?.message.messageId === first.messageId) await recordDead(a, head, 'again', T + 3)
      }
      return n
    })()
    await accepting
    t.ok((await replays) >= 1, 'replayed at least once')
    await countsAgree(t, s)
    if ((await a.listDeliveries({ status: 'dead' })).length > 0)
      t.equal(await a.replayDead({ relay: 'slack' }, T + 4), 1)
    const [claimed] = await claim(b, { owner: 'b', now: T + 10 })
    t.strictSame(
      await deliverAll(b, claimed!.id),
      [first.messageId, ...later.map(m => m.messageId)],
      'the replayed letter first, then the rest in order'
    )
  })

  t.test('pruning skips a message a replay is queuing, and a replay skips a message being pruned', async t => {
    const { s, a, b } = await replicas(t, db)
    const old = message({ receivedAt: T - 10_000 })
    await a.accept(old, ['slack'])
    await deliverAll(a, (await claim(a))[0]!.id)

    const sharer = await db.client(t)
    await sharer.query('BEGIN')
    await sharer.query(`SELECT seq FROM ${s}.messages FOR KEY SHARE`)
    t.strictSame(await b.prune(T), { messages: 0, deliveries: 0 }, 'a message in use is left for the next run')
    await sharer.query('COMMIT')

    const pruner = await db.client(t)
    await pruner.query('BEGIN')
    await pruner.query(`SELECT seq FROM ${s}.messages FOR UPDATE`)
    const replaying = a.replayConversation('default', 'c1', 'discord', T)
    await waitingOnLock(`${s}.messages`)
    await pruner.query(`DELETE FROM ${s}.deliveries`)
    await pruner.query(`DELETE FROM ${s}.messages`)
    await pruner.query('COMMIT')
    t.equal(await replaying, 0, 'the pruned message is not replayed, and nothing fails')
    t.strictSame(await a.backlog(), { pendingByRelay: {}, deadByRelay: {}, oldestPendingByRelay: {} })
  })

  t.test('replicas pruning at once remove each message once', async t => {
    const { s, a, b } = await replicas(t, db)
    await Promise.all(
      Array.from({ length: 3000 }, (_, i) =>
        (i % 2 ? a : b).accept(message({ conversationId: `c${i % 11}`, receivedAt: T - 5000 + (i % 100) }), [])
      )
    )
    const [x, y] = await Promise.all([a.prune(T), b.prune(T)])
    t.equal(x!.messages + y!.messages, 3000, `all pruned once (${x!.messages} + ${y!.messages})`)
    const left = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${s}.messages`)
    t.equal(left.rows[0]?.n, 0)
  })
}
