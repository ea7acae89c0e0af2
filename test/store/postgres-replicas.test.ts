import pg from 'pg'
import t, { type Test } from 'tap'
import { openPostgresStore, type PostgresStore } from '../../src/store/postgres.js'
import type { Lane } from '../../src/store/types.js'
import { postgresOrSkip, type TestDatabase } from '../helpers/postgres.js'
import { claim, deliverAll, message, T } from './fixtures/store.js'
import { claimLanes } from '../helpers/outbox-steps.js'

/** Several relay replicas sharing one database: what leases and locks must guarantee between them. */
const db = await postgresOrSkip(t)

/** Two stores on one fresh schema, as two replicas would open it. */
async function replicas(t: Test, db: TestDatabase): Promise<{ schema: string; a: PostgresStore; b: PostgresStore }> {
  const schema = await db.schema(t, { create: false })
  const [a, b] = await Promise.all([1, 2].map(() => openPostgresStore({ url: db.url, schema, poolSize: 4 })))
  t.teardown(async () => {
    await a!.close()
    await b!.close()
  })
  return { schema, a: a!, b: b! }
}

async function eventually(what: string, check: () => Promise<boolean>): Promise<void> {
  for (const started = Date.now(); Date.now() - started < 5000; ) {
    if (await check()) return
    await new Promise(resolve => setTimeout(resolve, 20))
  }
  throw new Error(`timed out waiting until ${what}`)
}

if (db) {
  t.test('replicas claiming at once never hand one lane to two owners', async t => {
    const { schema, a, b } = await replicas(t, db)
    await Promise.all(
      Array.from({ length: 60 }, (_, i) => (i % 2 ? a : b).accept(message({ conversationId: `c${i}` }), ['slack']))
    )
    const claimers = [
      [a, 'a1'],
      [a, 'a2'],
      [b, 'b1'],
      [b, 'b2']
    ] as const

    /** Claims in parallel rounds until nothing is left; fails on a lane given out twice. */
    async function claimEverything(now: number): Promise<Map<number, string>> {
      const owners = new Map<number, string>()
      for (let round = 0; round < 12; round++) {
        const claimed = await Promise.all(
          claimers.map(([store, owner]) =>
            claimLanes(store, { owner, now, limit: 2, leaseMs: 60_000, relays: ['slack'] }).then(lanes => ({
              owner,
              lanes
            }))
          )
        )
        for (const { owner, lanes } of claimed) {
          for (const lane of lanes) {
            if (owners.has(lane.id)) t.fail(`lane ${lane.id} went to ${owners.get(lane.id)} and to ${owner}`)
            owners.set(lane.id, owner)
          }
        }
      }
      return owners
    }

    const owners = await claimEverything(T)
    t.equal(owners.size, 60, 'every lane was claimed once')
    const rows = await db.query<{ id: string; owner: string }>(
      `SELECT id, owner FROM ${pg.escapeIdentifier(schema)}.lanes`
    )
    t.ok(
      rows.rows.every(r => owners.get(Number(r.id)) === r.owner),
      'the database names the same owners'
    )

    const takeover = await claimEverything(T + 60_001)
    t.equal(takeover.size, 60, 'after the leases ran out, each lane was taken over once')
  })

  t.test('one message sent to both replicas at once is stored once', async t => {
    const { schema, a, b } = await replicas(t, db)
    const messages = Array.from({ length: 25 }, () => message())
    const results = await Promise.all(messages.map(m => Promise.all([a.accept(m, ['slack']), b.accept(m, ['slack'])])))
    t.strictSame(
      results.map(pair => pair.filter(r => !r.duplicate).length),
      messages.map(() => 1),
      'one of each pair is new'
    )
    const count = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${pg.escapeIdentifier(schema)}.messages`
    )
    t.equal(count.rows[0]?.n, 25)
    t.strictSame(await a.pendingByRelay(), { slack: 25 })
  })

  t.test('a lane delivers in acknowledgement order even when seqs were drawn the other way', async t => {
    const { schema, a, b } = await replicas(t, db)
    const [early, late] = [message(), message()]
    // Hold a's insert of `early` after it drew its seq: another transaction is inserting the same key.
    const blocker = await db.client(t)
    await blocker.query('BEGIN')
    await blocker.query(
      `INSERT INTO ${pg.escapeIdentifier(schema)}.messages (source, message_id, type, conversation_id, payload, received_at)
      VALUES ($1, $2, $3, $4, $5, $6)`,
      [early!.source, early!.messageId, early!.type, early!.conversationId, JSON.stringify(early), early!.receivedAt]
    )
    const acceptingEarly = a.accept(early!, ['slack'])
    await eventually('a waits for the blocker', async () => {
      const waiting = await db.query(
        `SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND strpos(query, $1) > 0`,
        [`${schema}".messages`]
      )
      return waiting.rowCount! > 0
    })

    const lateAck = await b.accept(late!, ['slack'])
    await blocker.query('ROLLBACK')
    const earlyAck = await acceptingEarly
    t.equal(earlyAck.duplicate, false, 'stored once the blocker gave up')
    t.ok(
      earlyAck.seq! < lateAck.seq!,
      `the case under test: the message acknowledged second has the lower seq (${earlyAck.seq} < ${lateAck.seq})`
    )

    const [lane] = await claim(a)
    t.strictSame(
      await deliverAll(a, lane!.id),
      [late!.messageId, early!.messageId],
      'acknowledged first, delivered first'
    )
  })

  t.test('messages of one conversation sent through both replicas keep acknowledgement order', async t => {
    const { a, b } = await replicas(t, db)
    const sent: { id: string; started: number; acked: number }[] = []
    const send = async (store: PostgresStore) => {
      for (let i = 0; i < 15; i++) {
        const m = message()
        const started = performance.now()
        await store.accept(m, ['slack'])
        sent.push({ id: m.messageId, started, acked: performance.now() })
      }
    }
    await Promise.all([send(a), send(b)])
    const lanes: Lane[] = await claim(b)
    t.equal(lanes.length, 1)
    const order = await deliverAll(b, lanes[0]!.id)
    t.equal(order.length, 30)
    const position = new Map(order.map((id, i) => [id, i]))
    const overtaken = sent.flatMap(x =>
      sent
        .filter(y => x.acked < y.started && position.get(x.id)! > position.get(y.id)!)
        .map(y => `${y.id} before ${x.id}`)
    )
    t.strictSame(overtaken, [], 'no message acknowledged before another was sent is delivered after it')
  })
}
