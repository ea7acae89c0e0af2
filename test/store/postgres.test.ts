import t from 'tap'
import { openStore } from '../../src/store/index.js'
import { migratePostgres, openPostgresStore } from '../../src/store/postgres.js'
import { schemaVersion } from '../../src/store/postgres-schema.js'
import { postgresOrSkip } from '../helpers/postgres.js'
import { storeContract } from './contract.js'
import { claim, message } from './fixtures/store.js'

const db = await postgresOrSkip(t)

if (db) {
  storeContract(t, 'postgres', async t => {
    const schema = await db.schema(t, { create: false })
    let store = await openPostgresStore({ url: db.url, schema, poolSize: 4 })
    return {
      get store() {
        return store
      },
      async reopen() {
        await store.close()
        store = await openPostgresStore({ url: db.url, schema, poolSize: 4 })
        return store
      },
      cleanup: () => store.close()
    }
  })

  t.test('migrations create the schema and its tables, record the version and run again harmlessly', async t => {
    const schema = await db.schema(t, { create: false })
    await migratePostgres(db.url, schema)
    await migratePostgres(db.url, schema)
    const tables = await db.query<{ table_name: string }>(
      'SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1',
      [schema]
    )
    t.strictSame(
      tables.rows.map(r => r.table_name),
      [
        'backfills',
        'deliveries',
        'delivery_attempts',
        'lanes',
        'leases',
        'messages',
        'relay_state',
        'schema_migrations'
      ]
    )
    const versions = await db.query(`SELECT version, name FROM "${schema}".schema_migrations`)
    t.strictSame(versions.rows, [
      { version: 1, name: 'outbox' },
      { version: 2, name: 'outbox admin indexes' },
      { version: 3, name: 'delivery attempts' },
      { version: 4, name: 'backfill' }
    ])
  })

  t.test('a schema at version 1 is upgraded with the admin indexes, its data kept', async t => {
    const schema = await db.schema(t, { create: false })
    const s = `"${schema}"`
    let store = await openPostgresStore({ url: db.url, schema, poolSize: 2 })
    await store.accept(message(), ['slack'])
    await store.close()
    // Back to what a relay before migration 2 left behind.
    for (const index of [
      'messages_conversation',
      'messages_received',
      'lanes_conversation',
      'deliveries_lane_status',
      'deliveries_status'
    ]) {
      await db.query(`DROP INDEX ${s}.${index}`)
    }
    // And before the later steps: the attempts history and the backfill tables.
    await db.query(`DROP TABLE ${s}.delivery_attempts`)
    await db.query(`DROP FUNCTION ${s}.record_delivery_attempt CASCADE`)
    await db.query(`DROP TABLE ${s}.backfills, ${s}.leases`)
    await db.query(`DELETE FROM ${s}.schema_migrations WHERE version >= 2`)

    store = await openPostgresStore({ url: db.url, schema, poolSize: 2 })
    t.teardown(() => store.close())
    const indexes = await db.query<{ indexname: string }>(
      'SELECT indexname FROM pg_indexes WHERE schemaname = $1 ORDER BY 1',
      [schema]
    )
    t.match(
      indexes.rows.map(r => r.indexname),
      [
        'backfills_created',
        'backfills_pkey',
        'deliveries_lane_status',
        'deliveries_pending',
        'deliveries_pkey',
        'deliveries_seq',
        'deliveries_status',
        'delivery_attempts_delivery',
        'delivery_attempts_pkey',
        'lanes_conversation',
        'lanes_due',
        'lanes_pkey',
        'lanes_relay_source_conversation_id_key',
        'leases_pkey',
        'messages_conversation',
        'messages_pkey',
        'messages_received',
        'messages_source_message_id_type_key',
        'relay_state_pkey',
        'schema_migrations_pkey'
      ]
    )
    t.strictSame(await store.pendingByRelay(), { slack: 1 }, 'the message is still there')
    t.equal((await store.listConversations({}))[0]?.messages, 1)
  })

  t.test('several replicas starting at once migrate without error', async t => {
    const schema = await db.schema(t, { create: false })
    const stores = await Promise.all([1, 2, 3].map(() => openPostgresStore({ url: db.url, schema, poolSize: 2 })))
    t.teardown(() => Promise.all(stores.map(s => s.close())))
    await Promise.all([
      migratePostgres(db.url, schema),
      migratePostgres(db.url, schema),
      migratePostgres(db.url, schema)
    ])
    const versions = await db.query(`SELECT version FROM "${schema}".schema_migrations`)
    t.equal(versions.rowCount, schemaVersion, 'each migration applied once')
    await Promise.all(stores.map(s => s.ping()))
  })

  t.test('a schema name that needs quoting is used as given', async t => {
    const schema = await db.schema(t, { create: false, prefix: 'Relay "Test"-' })
    const store = await openPostgresStore({ url: db.url, schema, poolSize: 2 })
    t.teardown(() => store.close())
    await store.accept(message(), ['slack'])
    t.equal((await claim(store)).length, 1)
    const found = await db.query(
      'SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = $2',
      [schema, 'lanes']
    )
    t.equal(found.rowCount, 1, 'the tables are in exactly that schema')
  })

  t.test('a schema newer than this relay is refused', async t => {
    const schema = await db.schema(t, { create: false })
    await migratePostgres(db.url, schema)
    await db.query(`INSERT INTO "${schema}".schema_migrations (version, name) VALUES (999, 'future')`)
    await t.rejects(openPostgresStore({ url: db.url, schema }), { message: /version 999, newer than this relay knows/ })
  })

  t.test('openStore opens PostgreSQL from the config', async t => {
    const schema = await db.schema(t, { create: false })
    const store = await openStore({ driver: 'postgres', url: db.url, schema })
    t.teardown(() => store.close())
    t.equal((await store.accept(message(), ['slack'])).duplicate, false)
  })

  t.test('a server that cannot be reached is named, without the password', async t => {
    const url = 'postgres://relay:s3cret-pw@127.0.0.1:1/relaydb'
    for (const [what, attempt] of [
      ['openStore', () => openStore({ driver: 'postgres', url, schema: 'gptbots_relay' })],
      ['migratePostgres', () => migratePostgres(url, 'gptbots_relay')]
    ] as const) {
      const error = await attempt().then(
        () => undefined,
        (e: Error) => e
      )
      t.match(error?.message, /cannot connect to PostgreSQL at 127\.0\.0\.1:1\/relaydb: connection refused/, what)
      t.notMatch(error?.message, /s3cret/, `${what}: no password`)
    }
  })

  t.test('a message the database rejects fails alone, not the messages stored with it', async t => {
    const schema = await db.schema(t, { create: false })
    const store = await openPostgresStore({ url: db.url, schema, poolSize: 2 })
    t.teardown(() => store.close())
    // PostgreSQL text cannot hold NUL; the whole transaction of this batch fails on it.
    const bad = message({ conversationId: 'nul\u0000here' })
    const [before, broken, after] = await Promise.allSettled([
      store.accept(message(), ['slack']),
      store.accept(bad, ['slack']),
      store.accept(message(), ['slack'])
    ])
    t.match(before, { status: 'fulfilled', value: { duplicate: false } })
    t.match(broken, { status: 'rejected' })
    t.match(after, { status: 'fulfilled', value: { duplicate: false } })
    t.strictSame(await store.pendingByRelay(), { slack: 2 })
  })
}
