import type Database from 'better-sqlite3'
import type { BackfillJob, BackfillRecords } from './types.js'

/** Backfill records and leases in the SQLite file; writes go through the store's group commit. */
export class SqliteBackfillRecords implements BackfillRecords {
  private readonly q

  constructor(
    db: Database.Database,
    private readonly write: <T>(work: () => T) => Promise<T>
  ) {
    this.q = {
      // Taken when free, expired, or already ours; RETURNING says whether this owner holds it now.
      lease: db.prepare(`INSERT INTO leases (name, owner, until) VALUES (@name, @owner, @until)
        ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, until = excluded.until
        WHERE leases.until < @now OR leases.owner = excluded.owner
        RETURNING owner`),
      release: db.prepare('UPDATE leases SET until = 0 WHERE name = ? AND owner = ?'),
      lastReceived: db.prepare('SELECT MAX(received_at) AS at FROM messages'),
      save: db.prepare(`INSERT INTO backfills (id, status, created_at, record) VALUES (?, ?, ?, ?)
        ON CONFLICT (id) DO UPDATE SET status = excluded.status, record = excluded.record`),
      one: db.prepare('SELECT record FROM backfills WHERE id = ?'),
      list: db.prepare('SELECT record FROM backfills ORDER BY created_at DESC, id DESC LIMIT ?')
    }
  }

  async takeLease(name: string, owner: string, now: number, until: number): Promise<boolean> {
    return this.write(() => this.q.lease.get({ name, owner, now, until }) !== undefined)
  }

  async releaseLease(name: string, owner: string): Promise<void> {
    await this.write(() => this.q.release.run(name, owner))
  }

  async lastReceivedAt(): Promise<number | undefined> {
    return (this.q.lastReceived.get() as { at: number | null }).at ?? undefined
  }

  async saveBackfill(job: BackfillJob): Promise<void> {
    await this.write(() => this.q.save.run(job.id, job.status, job.createdAt, JSON.stringify(job)))
  }

  async backfill(id: string): Promise<BackfillJob | undefined> {
    const row = this.q.one.get(id) as { record: string } | undefined
    return row && (JSON.parse(row.record) as BackfillJob)
  }

  async listBackfills(limit: number): Promise<BackfillJob[]> {
    return (this.q.list.all(limit) as { record: string }[]).map(row => JSON.parse(row.record) as BackfillJob)
  }
}
