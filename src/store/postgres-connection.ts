import pg from 'pg'

export interface PostgresPoolOptions {
  /** Connections this process keeps at most. */
  poolSize?: number
  /** A statement running longer than this fails, so that a stuck lock cannot hold a webhook forever. */
  statementTimeoutMs?: number
}

/**
 * Columns of type bigint (epoch milliseconds, ids, sums) come back as numbers instead of pg's
 * default strings. They stay far below 2^53, so nothing is lost. Set per pool, not globally, so
 * other users of `pg` in the same process keep their parsers.
 */
const types: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === pg.types.builtins.INT8 && format !== 'binary'
      ? (value: string) => Number(value)
      : pg.types.getTypeParser(oid, format)) as pg.CustomTypesConfig['getTypeParser']
}

/** `host:port/database` of a connection URL, for messages: never the user or the password. */
export function describeTarget(url: string): string {
  try {
    const parsed = new URL(url)
    const host = parsed.hostname || parsed.searchParams.get('host') || 'localhost'
    const database = decodeURIComponent(parsed.pathname.replace(/^\//, ''))
    return `${host}:${parsed.port || '5432'}${database ? `/${database}` : ''}`
  } catch {
    return 'the configured URL'
  }
}

const reasons: Record<string, string> = {
  ECONNREFUSED: 'connection refused (is PostgreSQL running and listening on that host and port?)',
  ENOTFOUND: 'the host name does not resolve',
  EAI_AGAIN: 'the host name does not resolve (DNS is not answering)',
  ETIMEDOUT: 'the connection timed out',
  EHOSTUNREACH: 'the host is unreachable',
  ECONNRESET: 'the server closed the connection',
  '28P01': 'the user name or password was rejected',
  '28000': 'the server does not allow this user to connect from here (pg_hba.conf)',
  '3D000': 'the database does not exist',
  '57P03': 'the server is starting up or shutting down'
}

/** Turns a failure to connect into an Error that names the server (not the password) and the likely reason. */
export function connectionError(error: unknown, url: string): Error {
  const code = (error as { code?: string }).code
  const detail = error instanceof Error ? error.message : String(error)
  const reason = (code && reasons[code]) || (/timeout/i.test(detail) ? 'the connection timed out' : detail)
  return new Error(`cannot connect to PostgreSQL at ${describeTarget(url)}: ${reason}`, { cause: error })
}

/** A pool whose idle connections may die without taking the process down. */
export function createPool(url: string, options: PostgresPoolOptions = {}): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolSize ?? 10,
    // Without a limit, a server that drops packets makes every webhook wait for the OS TCP timeout.
    connectionTimeoutMillis: 10_000,
    statement_timeout: options.statementTimeoutMs ?? 30_000,
    keepAlive: true,
    fallback_application_name: 'gptbots-relay',
    types
  })
  // pg emits 'error' for an idle connection the server closed. Unhandled, that would crash the
  // relay; the pool already drops the connection and the next query reports any lasting problem.
  pool.on('error', () => {})
  // A connection checked out of the pool has no 'error' listener of the pool's: when the server
  // goes away (57P01 at a restart, a cut socket at a crash or failover) between two of its
  // queries, or just after the one running failed, pg emits 'error' on it with nobody listening,
  // which ends the process. The query in flight, or the next one, fails and drops the connection.
  pool.on('connect', client => client.on('error', () => {}))
  return pool
}

/** Connects, translating a failure into a helpful message. */
export async function connect(pool: pg.Pool, url: string): Promise<pg.PoolClient> {
  try {
    return await pool.connect()
  } catch (error) {
    throw connectionError(error, url)
  }
}

/** SQLSTATEs after which the same transaction may simply be run again. */
const transient = new Set(['40001', '40P01'])

/**
 * Runs `work` in a transaction on one connection. A deadlock or serialization failure rolls back
 * everything, so the whole transaction is tried again (a few times) instead of failing the caller.
 */
export async function inTransaction<T>(
  pool: pg.Pool,
  url: string,
  work: (client: pg.PoolClient) => Promise<T>
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const client = await connect(pool, url)
    let broken: Error | undefined
    try {
      await client.query('BEGIN')
      const result = await work(client)
      await client.query('COMMIT')
      return result
    } catch (error) {
      // A connection that cannot even roll back is not given back to the pool.
      await client.query('ROLLBACK').catch((rollbackError: Error) => {
        broken = rollbackError
      })
      const code = (error as { code?: string }).code
      if (!(code && transient.has(code) && attempt < 3)) throw error
    } finally {
      client.release(broken)
    }
  }
}
