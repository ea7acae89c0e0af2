import pg from 'pg'
import { connect, createPool } from './postgres-connection.js'

interface Migration {
  version: number
  name: string
  /** The DDL, given the quoted schema name. */
  sql(schema: string): string
}

/**
 * The schema, step by step. A released step is never edited; a change is a new step at the end.
 * Times are epoch milliseconds from the relay (bigint), so every replica compares like with like.
 */
const migrations: Migration[] = [
  {
    version: 1,
    name: 'outbox',
    sql: s => `
    CREATE TABLE ${s}.messages (
      seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      source text NOT NULL,
      message_id text NOT NULL,
      type text NOT NULL,
      conversation_id text NOT NULL,
      -- json, not jsonb: kept verbatim, and it accepts \\u0000, which jsonb rejects.
      payload json NOT NULL,
      received_at bigint NOT NULL,
      UNIQUE (source, message_id, type)
    );
    CREATE TABLE ${s}.lanes (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      relay text NOT NULL,
      source text NOT NULL,
      conversation_id text NOT NULL,
      pending integer NOT NULL DEFAULT 0,
      due_at bigint,
      owner text,
      lease_until bigint,
      UNIQUE (relay, source, conversation_id)
    );
    CREATE INDEX lanes_due ON ${s}.lanes (due_at) WHERE due_at IS NOT NULL;
    -- A lane delivers in id order, so this identity must hand out ids in the order they are asked
    -- for across all connections: keep its CACHE at 1 (the default).
    CREATE TABLE ${s}.deliveries (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      seq bigint NOT NULL REFERENCES ${s}.messages (seq),
      lane_id bigint NOT NULL REFERENCES ${s}.lanes (id),
      relay text NOT NULL,
      status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'dead')),
      attempts integer NOT NULL DEFAULT 0,
      last_error text,
      posted json,
      created_at bigint NOT NULL,
      updated_at bigint NOT NULL
    );
    CREATE INDEX deliveries_pending ON ${s}.deliveries (lane_id, id) WHERE status = 'pending';
    CREATE INDEX deliveries_seq ON ${s}.deliveries (seq);
    CREATE TABLE ${s}.relay_state (
      relay text NOT NULL,
      source text NOT NULL,
      conversation_id text NOT NULL,
      key text NOT NULL,
      value json NOT NULL,
      PRIMARY KEY (relay, source, conversation_id, key)
    );`
  },
  {
    version: 2,
    name: 'outbox admin indexes',
    // Built inside the migration's transaction: writes wait while they build, once, at upgrade.
    sql: s => `
    CREATE INDEX messages_conversation ON ${s}.messages (source, conversation_id, seq) INCLUDE (received_at);
    CREATE INDEX messages_received ON ${s}.messages (received_at, seq);
    CREATE INDEX lanes_conversation ON ${s}.lanes (source, conversation_id);
    CREATE INDEX deliveries_lane_status ON ${s}.deliveries (lane_id, status);
    CREATE INDEX deliveries_status ON ${s}.deliveries (status, relay);`
  },
  {
    version: 3,
    name: 'delivery attempts',
    // Written by a trigger in the statement that records an outcome (or a replay), so every way
    // the store records one keeps the history alike; it goes when its delivery does (prune, drop).
    sql: s => `
    CREATE TABLE ${s}.delivery_attempts (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      delivery_id bigint NOT NULL REFERENCES ${s}.deliveries (id) ON DELETE CASCADE,
      attempt integer NOT NULL,
      outcome text NOT NULL,
      error text,
      posted json,
      at bigint NOT NULL
    );
    CREATE INDEX delivery_attempts_delivery ON ${s}.delivery_attempts (delivery_id, id);
    CREATE FUNCTION ${s}.record_delivery_attempt() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.attempts > OLD.attempts THEN
        INSERT INTO ${s}.delivery_attempts (delivery_id, attempt, outcome, error, posted, at)
        VALUES (NEW.id, NEW.attempts, CASE NEW.status WHEN 'pending' THEN 'retry' ELSE NEW.status END,
          CASE NEW.status WHEN 'delivered' THEN NULL ELSE NEW.last_error END,
          CASE NEW.status WHEN 'delivered' THEN NEW.posted END, NEW.updated_at);
      ELSIF OLD.status = 'dead' AND NEW.status = 'pending' THEN
        INSERT INTO ${s}.delivery_attempts (delivery_id, attempt, outcome, at) VALUES (NEW.id, 0, 'replayed', NEW.updated_at);
      END IF;
      RETURN NULL;
    END $$;
    CREATE TRIGGER delivery_attempt AFTER UPDATE OF attempts, status ON ${s}.deliveries
      FOR EACH ROW WHEN (NEW.attempts > OLD.attempts OR (OLD.status = 'dead' AND NEW.status = 'pending'))
      EXECUTE FUNCTION ${s}.record_delivery_attempt();`
  },
  {
    version: 4,
    name: 'backfill',
    sql: s => `
    CREATE TABLE ${s}.backfills (
      id text PRIMARY KEY,
      status text NOT NULL,
      created_at bigint NOT NULL,
      record json NOT NULL
    );
    CREATE INDEX backfills_created ON ${s}.backfills (created_at);
    CREATE TABLE ${s}.leases (
      name text PRIMARY KEY,
      owner text NOT NULL,
      until bigint NOT NULL
    );`
  }
]

export const schemaVersion = migrations[migrations.length - 1]!.version

/** The first key of the advisory lock: this application's, so other users of the database never wait on it. */
const lockSpace = 0x67707462

/**
 * Brings `schema` up to the newest version on an open connection. Replicas starting together
 * queue on a transaction-level advisory lock per schema: the first migrates, the others find the
 * work done. Everything, the lock included, ends with the transaction, so a crash leaves nothing half done.
 */
export async function migrate(client: pg.ClientBase, schema: string): Promise<void> {
  const s = pg.escapeIdentifier(schema)
  await client.query('BEGIN')
  try {
    // Waiting for another replica's migration is expected; the pool's statement timeout is not meant for it.
    await client.query('SET LOCAL statement_timeout = 0')
    await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [lockSpace, schema])
    // CREATE SCHEMA IF NOT EXISTS needs the CREATE privilege even when the schema exists, so look
    // first: an administrator may create the schema and give the relay's user only that.
    const exists = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema])
    if (exists.rowCount === 0) await client.query(`CREATE SCHEMA ${s}`)
    await client.query(`CREATE TABLE IF NOT EXISTS ${s}.schema_migrations (
      version integer PRIMARY KEY,
      name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`)
    const { rows } = await client.query<{ version: number }>(
      `SELECT COALESCE(MAX(version), 0)::int AS version FROM ${s}.schema_migrations`
    )
    const current = rows[0]!.version
    if (current > schemaVersion) {
      throw new Error(
        `PostgreSQL schema "${schema}" is at version ${current}, newer than this relay knows (${schemaVersion}); run a newer gptbots-relay`
      )
    }
    for (const migration of migrations) {
      if (migration.version <= current) continue
      await client.query(migration.sql(s))
      await client.query(`INSERT INTO ${s}.schema_migrations (version, name) VALUES ($1, $2)`, [
        migration.version,
        migration.name
      ])
    }
    await client.query('COMMIT')
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {
      /* the connection is gone; so is the transaction */
    })
    throw error
  }
}

/** Migrates the schema of the database at `url` and disconnects: the `migrate` command. */
export async function migratePostgres(url: string, schema: string): Promise<void> {
  const pool = createPool(url, { poolSize: 1 })
  try {
    const client = await connect(pool, url)
    try {
      await migrate(client, schema)
    } finally {
      client.release()
    }
  } finally {
    await pool.end()
  }
}
