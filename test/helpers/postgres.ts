import { randomBytes } from 'node:crypto'
import pg from 'pg'
import type { Test } from 'tap'
import { connectionError } from '../../src/store/postgres-connection.js'

/** The PostgreSQL named by TEST_DATABASE_URL, shared by the tests of one file. */
export interface TestDatabase {
  url: string
  /**
   * A schema name nobody uses, dropped with everything in it when `t` ends, so each test starts
   * empty and leaves nothing behind. Created now unless `create` is false (to test that the
   * store creates it). `prefix` starts the name, e.g. with characters that need quoting.
   */
  schema(t: Test, options?: { create?: boolean; prefix?: string }): Promise<string>
  /** Runs SQL beside the store, to look at or hold what it stores. */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>
  /** A connection of its own, for holding locks; released when `t` ends. */
  client(t: Test): Promise<pg.PoolClient>
}

let counter = 0

/**
 * The test database, or undefined when the tests of `t` cannot run. Without TEST_DATABASE_URL
 * they are skipped, saying so. With it, a server that cannot be reached fails them: a CI that
 * meant to test PostgreSQL must not pass by skipping.
 */
export async function postgresOrSkip(t: Test): Promise<TestDatabase | undefined> {
  const url = process.env.TEST_DATABASE_URL
  if (!url) {
    const why =
      'the PostgreSQL tests need a server and TEST_DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/test; apt-get install postgresql)'
    // CI must not pass by skipping them.
    if (process.env.CI) t.fail(why)
    else t.plan(0, `${why}: skipped`)
    return undefined
  }
  const pool = new pg.Pool({ connectionString: url, max: 4, connectionTimeoutMillis: 5000 })
  pool.on('error', () => {})
  try {
    await pool.query('SELECT 1')
  } catch (error) {
    await pool.end()
    t.fail(`TEST_DATABASE_URL is set, but the tests cannot run: ${connectionError(error, url).message}`)
    return undefined
  }
  t.teardown(() => pool.end())

  return {
    url,
    async schema(test, { create = true, prefix = 'relay_test_' } = {}) {
      const name = `${prefix}${process.pid}_${++counter}_${randomBytes(3).toString('hex')}`
      test.teardown(async () => {
        await pool.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(name)} CASCADE`)
      })
      if (create) await pool.query(`CREATE SCHEMA ${pg.escapeIdentifier(name)}`)
      return name
    },
    query: (text, values) => pool.query(text, values),
    async client(test) {
      const client = await pool.connect()
      test.teardown(() => client.release(true))
      return client
    }
  }
}
