import type pg from 'pg'
import type { BackfillJob, BackfillRecords } from './types.js'

type Query = <R extends pg.QueryResultRow>(text: string, values: unknown[]) => Promise<pg.QueryResult<R>>

/** Backfill records and leases in PostgreSQL, where the lease decides which replica runs an automatic backfill. */
export class PostgresBackfillRecords implements BackfillRecords {
  constructor(
    private readonly query: Query,
    private readonly s: string
  ) {}

  async takeLease(name: string, owner: string, now: number, until: number): Promise<boolean> {
    // The row lock of the upsert makes two replicas asking at once take turns: one gets it.
    const { rowCount } = await this.query(
      `INSERT INTO ${this.s}.leases (name, owner, until) VALUES ($1, $2, $3)
       ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, until = excluded.until
       WHERE ${this.s}.leases.until < $4 OR ${this.s}.leases.owner = excluded.owner
       RETURNING owner`,
      [name, owner, until, now]
    )
    return rowCount === 1
  }

  async releaseLease(name: string, owner: string): Promise<void> {
    await this.query(`UPDATE ${this.s}.leases SET until = 0 WHERE name = $1 AND owner = $2`, [name, owner])
  }

  async lastReceivedAt(): Promise<number | undefined> {
    const { rows } = await this.query<{ at: string | null }>(
      `SELECT MAX(received_at)::text AS at FROM ${this.s}.messages`,
      []
    )
    return rows[0]?.at == null ? undefined : Number(rows[0].at)
  }

  async saveBackfill(job: BackfillJob): Promise<void> {
    await this.query(
      `INSERT INTO ${this.s}.backfills (id, status, created_at, record) VALUES ($1, $2, $3, $4)
       ON CONFLICT (id) DO UPDATE SET status = excluded.status, record = excluded.record`,
      [job.id, job.status, job.createdAt, JSON.stringify(job)]
    )
  }

  async backfill(id: string): Promise<BackfillJob | undefined> {
    const { rows } = await this.query<{ record: BackfillJob }>(`SELECT record FROM ${this.s}.backfills WHERE id = $1`, [
      id
    ])
    return rows[0]?.record
  }

  async listBackfills(limit: number): Promise<BackfillJob[]> {
    const { rows } = await this.query<{ record: BackfillJob }>(
      `SELECT record FROM ${this.s}.backfills ORDER BY created_at DESC, id DESC LIMIT $1`,
      [limit]
    )
    return rows.map(row => row.record)
  }
}
