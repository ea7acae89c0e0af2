import type Database from 'better-sqlite3'

interface SqliteMigration {
  version: number
  name: string
  sql: string
}

/**
 * The SQLite schema, step by step, as PostgreSQL's (postgres-schema.ts). A released step is never
 * edited; a change is a new step at the end. Step 1 is the schema as it stood when versions began:
 * its statements say IF NOT EXISTS so that a file made before then is taken over as it is.
 */
const migrations: SqliteMigration[] = [
  {
    version: 1,
    name: 'outbox',
    // The last four indexes are what the admin, metrics and pruning read by. Every accept and
    // every outcome writes them, so there are few: a delivery's counts are reached through its
    // message's conversation, and only dead letters are indexed by status.
    sql: `
CREATE TABLE IF NOT EXISTS messages (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  source TEXT NOT NULL,
  message_id TEXT NOT NULL,
  type TEXT NOT NULL,
  conversation_id TEXT NOT NULL,
  payload TEXT NOT NULL,
  received_at INTEGER NOT NULL,
  UNIQUE (source, message_id, type)
);
CREATE TABLE IF NOT EXISTS lanes (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  relay TEXT NOT NULL,
  source TEXT NOT NULL,
  conversation_id TEXT NOT NULL,
  pending INTEGER NOT NULL DEFAULT 0,
  due_at INTEGER,
  owner TEXT,
  lease_until INTEGER,
  UNIQUE (relay, source, conversation_id)
);
CREATE INDEX IF NOT EXISTS lanes_due ON lanes (due_at) WHERE due_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS deliveries (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  seq INTEGER NOT NULL REFERENCES messages (seq),
  lane_id INTEGER NOT NULL REFERENCES lanes (id),
  relay TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'pending',
  attempts INTEGER NOT NULL DEFAULT 0,
  last_error TEXT,
  posted TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS deliveries_pending ON deliveries (lane_id, id) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS deliveries_seq ON deliveries (seq);
CREATE TABLE IF NOT EXISTS relay_state (
  relay TEXT NOT NULL,
  source TEXT NOT NULL,
  conversation_id TEXT NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (relay, source, conversation_id, key)
);
CREATE INDEX IF NOT EXISTS messages_conversation ON messages (source, conversation_id, seq, received_at);
CREATE INDEX IF NOT EXISTS messages_received ON messages (received_at);
CREATE INDEX IF NOT EXISTS lanes_conversation ON lanes (source, conversation_id);
CREATE INDEX IF NOT EXISTS deliveries_dead ON deliveries (relay, id) WHERE status = 'dead';
`
  },
  {
    version: 2,
    name: 'delivery attempts',
    // IF NOT EXISTS: a file taken over from before versions runs every step, and may hold these.
    // Written by triggers in the statement that records an outcome (or a replay), so every way
    // the store records one keeps the history alike; it goes when its delivery does (prune, drop).
    sql: `
CREATE TABLE IF NOT EXISTS delivery_attempts (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  delivery_id INTEGER NOT NULL,
  attempt INTEGER NOT NULL,
  outcome TEXT NOT NULL,
  error TEXT,
  posted TEXT,
  at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS delivery_attempts_delivery ON delivery_attempts (delivery_id, id);
CREATE TRIGGER IF NOT EXISTS delivery_attempt AFTER UPDATE OF attempts ON deliveries
WHEN NEW.attempts > OLD.attempts
BEGIN
  INSERT INTO delivery_attempts (delivery_id, attempt, outcome, error, posted, at)
  VALUES (NEW.id, NEW.attempts, CASE NEW.status WHEN 'pending' THEN 'retry' ELSE NEW.status END,
    CASE NEW.status WHEN 'delivered' THEN NULL ELSE NEW.last_error END,
    CASE NEW.status WHEN 'delivered' THEN NEW.posted END, NEW.updated_at);
END;
CREATE TRIGGER IF NOT EXISTS delivery_attempt_replayed AFTER UPDATE OF status ON deliveries
WHEN OLD.status = 'dead' AND NEW.status = 'pending'
BEGIN
  INSERT INTO delivery_attempts (delivery_id, attempt, outcome, at) VALUES (NEW.id, 0, 'replayed', NEW.updated_at);
END;
CREATE TRIGGER IF NOT EXISTS delivery_attempts_gone AFTER DELETE ON deliveries
BEGIN
  DELETE FROM delivery_attempts WHERE delivery_id = OLD.id;
END;
`
  },
  {
    version: 3,
    name: 'backfill',
    // IF NOT EXISTS, as in step 1: a file taken over without versions runs every step.
    sql: `
CREATE TABLE IF NOT EXISTS backfills (
  id TEXT PRIMARY KEY,
  status TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS backfills_created ON backfills (created_at);
CREATE TABLE IF NOT EXISTS leases (
  name TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  until INTEGER NOT NULL
);
`
  }
]

/**
 * What a file made before versions began may hold beyond step 1: two indexes that every accept and
 * outcome wrote for the admin (about a fifth of an accept's cost), dropped when it is taken over.
 */
const beforeVersions = `
DROP INDEX IF EXISTS deliveries_lane_status;
DROP INDEX IF EXISTS deliveries_status;
`

export const sqliteSchemaVersion = migrations[migrations.length - 1]!.version

/**
 * Brings the file up to the newest version in one transaction, recording each step in
 * schema_migrations; a file newer than this code is refused rather than written with old rules.
 */
export function migrateSqlite(db: Database.Database): void {
  db.transaction(() => {
    db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
  version INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
)`)
    const current = db.prepare('SELECT COALESCE(MAX(version), 0) FROM schema_migrations').pluck().get() as number
    if (current > sqliteSchemaVersion) {
      throw new Error(
        `the SQLite store is at schema version ${current}, newer than this relay knows (${sqliteSchemaVersion}); run a newer gptbots-relay`
      )
    }
    const unversioned =
      current === 0 && db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'messages'`).get()
    if (unversioned) db.exec(beforeVersions)
    const record = db.prepare('INSERT INTO schema_migrations (version, name) VALUES (?, ?)')
    for (const migration of migrations) {
      if (migration.version <= current) continue
      db.exec(migration.sql)
      record.run(migration.version, migration.name)
    }
  })()
}
