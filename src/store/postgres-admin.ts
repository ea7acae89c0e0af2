import type pg from 'pg'
import type { RelayMessage } from '../message.js'
import { checkSelector, selectorParams } from './selector.js'
import {
  type BacklogRow,
  backlogFrom,
  type PruneBatch,
  type PruneCursor,
  pruneBatch,
  pruneInBatches
} from './shared.js'
import type {
  BacklogStats,
  DeliveryAttempt,
  ConversationFilter,
  ConversationSummary,
  DeadLetterSelector,
  PruneResult,
  StoredMessage
} from './types.js'

/** How the admin reaches the database: single statements, or several in one transaction. */
export interface PostgresAccess {
  query<R extends pg.QueryResultRow>(text: string, values: unknown[]): Promise<pg.QueryResult<R>>
  transaction<T>(work: (client: pg.ClientBase) => Promise<T>): Promise<T>
}

/** The statements, given the quoted schema name. Selectors bind $1 deliveryId, $2 relay, then (but for revive) $3 source, $4 conversationId. */
function statements(s: string) {
  return {
    conversations: `SELECT source, conversation_id AS "conversationId", count(*)::int AS messages,
        min(received_at) AS "firstReceivedAt", max(received_at) AS "lastReceivedAt"
      FROM ${s}.messages m WHERE ($1::text IS NULL OR source = $1)
        AND ($8::text IS NULL OR strpos(lower(conversation_id), lower($8)) > 0)
      GROUP BY source, conversation_id
      HAVING ($2::bigint IS NULL OR max(received_at) < $2
        OR (max(received_at) = $2 AND (source, conversation_id) > ($4::text, $5::text)))
        AND (($6::text IS NULL AND $7::text IS NULL) OR EXISTS (SELECT 1 FROM ${s}.lanes l
          WHERE l.source = m.source AND l.conversation_id = m.conversation_id
            AND ($6::text IS NULL OR l.relay = $6)
            AND ($7::text IS NULL OR $7 = 'delivered'
              OR EXISTS (SELECT 1 FROM ${s}.deliveries d WHERE d.lane_id = l.id AND d.status = $7))))
        AND ($7::text IS DISTINCT FROM 'delivered' OR NOT EXISTS (SELECT 1 FROM ${s}.lanes l
          JOIN ${s}.deliveries d ON d.lane_id = l.id AND d.status IN ('pending', 'dead')
          WHERE l.source = m.source AND l.conversation_id = m.conversation_id
            AND ($6::text IS NULL OR l.relay = $6)))
      ORDER BY max(received_at) DESC, source, conversation_id LIMIT $3`,
    destinations: `SELECT l.source, l.conversation_id AS "conversationId", l.relay,
        count(*) FILTER (WHERE d.status = 'pending')::int AS pending,
        count(*) FILTER (WHERE d.status = 'delivered')::int AS delivered,
        count(*) FILTER (WHERE d.status = 'dead')::int AS dead
      FROM ${s}.lanes l LEFT JOIN ${s}.deliveries d ON d.lane_id = l.id
      WHERE (l.source, l.conversation_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))
      GROUP BY l.id ORDER BY l.relay`,
    attempts: `SELECT delivery_id AS "deliveryId", attempt, outcome, error, posted, at FROM ${s}.delivery_attempts
      WHERE delivery_id = ANY($1::bigint[]) ORDER BY delivery_id, id`,
    messages: `SELECT seq, payload FROM ${s}.messages WHERE source = $1 AND conversation_id = $2 AND seq > $3 ORDER BY seq LIMIT $4`,
    // The lanes of the selected dead letters, locked as claiming and accepting lock them (accept's
    // key order), so a revived letter and new messages of a lane are counted one after the other.
    lockDeadLanes: `SELECT l.id FROM ${s}.lanes l
      WHERE l.id IN (SELECT d.lane_id FROM ${s}.deliveries d
          WHERE d.status = 'dead' AND ($1::bigint IS NULL OR d.id = $1) AND ($2::text IS NULL OR d.relay = $2))
        AND ($3::text IS NULL OR l.source = $3) AND ($4::text IS NULL OR l.conversation_id = $4)
      ORDER BY l.relay, l.source, l.conversation_id
      FOR UPDATE OF l`,
    // Due now unless the lane is due earlier; owner and lease stay with whoever holds the lane.
    revive: `WITH revived AS (
        UPDATE ${s}.deliveries SET status = 'pending', attempts = 0, updated_at = $3
        WHERE lane_id = ANY($4::bigint[]) AND status = 'dead' AND ($1::bigint IS NULL OR id = $1) AND ($2::text IS NULL OR relay = $2)
        RETURNING lane_id
      ), per_lane AS (SELECT lane_id, count(*)::int AS n FROM revived GROUP BY lane_id)
      UPDATE ${s}.lanes l SET pending = l.pending + per_lane.n, due_at = LEAST(COALESCE(l.due_at, $3), $3)
      FROM per_lane WHERE l.id = per_lane.lane_id
      RETURNING per_lane.n`,
    drop: `DELETE FROM ${s}.deliveries d USING ${s}.lanes l
      WHERE l.id = d.lane_id AND d.status = 'dead' AND ($1::bigint IS NULL OR d.id = $1) AND ($2::text IS NULL OR d.relay = $2)
        AND ($3::text IS NULL OR l.source = $3) AND ($4::text IS NULL OR l.conversation_id = $4)`,
    // KEY SHARE keeps these messages from being pruned until the new deliveries reference them.
    conversationSeqs: `SELECT seq FROM ${s}.messages WHERE source = $1 AND conversation_id = $2 ORDER BY seq FOR KEY SHARE`,
    addToLane: `INSERT INTO ${s}.lanes AS l (relay, source, conversation_id, pending, due_at) VALUES ($1, $2, $3, $4, $5)
      ON CONFLICT (relay, source, conversation_id) DO UPDATE SET pending = l.pending + excluded.pending, due_at = COALESCE(l.due_at, excluded.due_at)
      RETURNING id`,
    queueAll: `INSERT INTO ${s}.deliveries (seq, lane_id, relay, created_at, updated_at)
      SELECT seq, $2, $3, $4, $4 FROM unnest($1::bigint[]) WITH ORDINALITY AS m (seq, ord) ORDER BY ord`,
    backlog: `SELECT 'pending' AS kind, relay, sum(pending)::bigint AS n FROM ${s}.lanes WHERE pending > 0 GROUP BY relay
      UNION ALL SELECT 'dead', relay, count(*) FROM ${s}.deliveries WHERE status = 'dead' GROUP BY relay
      UNION ALL SELECT 'oldest', d.relay, min(m.received_at) FROM ${s}.deliveries d JOIN ${s}.messages m ON m.seq = d.seq WHERE d.status = 'pending' GROUP BY d.relay`,
    // Old messages in (received_at, seq) order from a cursor, locked so that no delivery can be
    // added to them (replayConversation) while they go; rows another transaction holds wait for the next run.
    prunable: `SELECT seq, received_at AS "receivedAt" FROM ${s}.messages m
      WHERE received_at < $1 AND (received_at, seq) > ($2::bigint, $3::bigint)
        AND NOT EXISTS (SELECT 1 FROM ${s}.deliveries d WHERE d.seq = m.seq AND d.status <> 'delivered')
      ORDER BY received_at, seq LIMIT $4
      FOR UPDATE SKIP LOCKED`,
    // Checked again under the lock, in a newer snapshot: a replay committed since the first look keeps its message.
    stillPrunable: `SELECT seq FROM ${s}.messages m WHERE seq = ANY($1::bigint[])
      AND NOT EXISTS (SELECT 1 FROM ${s}.deliveries d WHERE d.seq = m.seq AND d.status <> 'delivered')`,
    pruneDeliveries: `DELETE FROM ${s}.deliveries WHERE seq = ANY($1::bigint[])`,
    pruneMessages: `DELETE FROM ${s}.messages WHERE seq = ANY($1::bigint[])`
  }
}

const selectorValues = (selector: DeadLetterSelector) => {
  checkSelector(selector)
  const p = selectorParams(selector)
  return [p.deliveryId, p.relay, p.source, p.conversationId]
}

/**
 * What an operator does with the outbox of a PostgreSQL store, safe with several replicas at
 * work: changes to a lane's deliveries happen under that lane's row lock, and pruning locks the
 * messages it removes.
 */
export class PostgresOutboxAdmin {
  private readonly q

  constructor(
    private readonly db: PostgresAccess,
    quotedSchema: string
  ) {
    this.q = statements(quotedSchema)
  }

  async listConversations(filter: ConversationFilter): Promise<ConversationSummary[]> {
    const { rows } = await this.db.query<Omit<ConversationSummary, 'destinations'>>(this.q.conversations, [
      filter.source ?? null,
      filter.after?.lastReceivedAt ?? null,
      filter.limit ?? 100,
      filter.after?.source ?? null,
      filter.after?.conversationId ?? null,
      filter.relay ?? null,
      filter.status ?? null,
      filter.search || null
    ])
    if (rows.length === 0) return []
    const lanes = await this.db.query<
      ConversationSummary['destinations'][number] & { source: string; conversationId: string }
    >(this.q.destinations, [rows.map(r => r.source), rows.map(r => r.conversationId)])
    const key = (source: string, conversationId: string) => JSON.stringify([source, conversationId])
    const byConversation = new Map<string, ConversationSummary['destinations']>()
    for (const { source, conversationId, ...destination } of lanes.rows) {
      const k = key(source, conversationId)
      byConversation.set(k, [...(byConversation.get(k) ?? []), destination])
    }
    return rows.map(row => ({ ...row, destinations: byConversation.get(key(row.source, row.conversationId)) ?? [] }))
  }

  async listAttempts(deliveryIds: number[]): Promise<DeliveryAttempt[]> {
    const { rows } = await this.db.query<
      Omit<DeliveryAttempt, 'posted' | 'error'> & { error: string | null; posted: DeliveryAttempt['posted'] | null }
    >(this.q.attempts, [deliveryIds])
    return rows.map(({ error, posted, ...row }) => ({
      ...row,
      ...(error === null ? {} : { error }),
      ...(posted === null ? {} : { posted })
    }))
  }

  async listMessages(
    source: string,
    conversationId: string,
    options: { afterSeq?: number; limit?: number } = {}
  ): Promise<StoredMessage[]> {
    const { rows } = await this.db.query<{ seq: number; payload: RelayMessage }>(this.q.messages, [
      source,
      conversationId,
      options.afterSeq ?? 0,
      options.limit ?? 100
    ])
    return rows.map(r => ({ seq: r.seq, message: r.payload }))
  }

  async replayDead(selector: DeadLetterSelector, now: number): Promise<number> {
    const values = selectorValues(selector)
    return this.db.transaction(async client => {
      const lanes = await client.query<{ id: number }>(this.q.lockDeadLanes, values)
      if (lanes.rows.length === 0) return 0
      const revived = await client.query<{ n: number }>(this.q.revive, [
        values[0],
        values[1],
        now,
        lanes.rows.map(l => l.id)
      ])
      return revived.rows.reduce((sum, r) => sum + r.n, 0)
    })
  }

  async dropDead(selector: DeadLetterSelector): Promise<number> {
    const result = await this.db.query(this.q.drop, selectorValues(selector))
    return result.rowCount ?? 0
  }

  async replayConversation(source: string, conversationId: string, relay: string, now: number): Promise<number> {
    return this.db.transaction(async client => {
      const { rows } = await client.query<{ seq: number }>(this.q.conversationSeqs, [source, conversationId])
      if (rows.length === 0) return 0
      // Locks the lane, as accept does, before delivery ids are drawn: they come after everything already in it.
      const lane = await client.query<{ id: number }>(this.q.addToLane, [
        relay,
        source,
        conversationId,
        rows.length,
        now
      ])
      const queued = await client.query(this.q.queueAll, [rows.map(r => r.seq), lane.rows[0]!.id, relay, now])
      return queued.rowCount ?? 0
    })
  }

  async backlog(): Promise<BacklogStats> {
    const { rows } = await this.db.query<BacklogRow>(this.q.backlog, [])
    return backlogFrom(rows)
  }

  prune(before: number): Promise<PruneResult> {
    // One transaction per batch: locks are held briefly, and a batch tried again counts once.
    return pruneInBatches(before, (b, cursor) => this.db.transaction(client => this.pruneOnce(client, b, cursor)))
  }

  private async pruneOnce(client: pg.ClientBase, before: number, cursor: PruneCursor): Promise<PruneBatch> {
    const { rows } = await client.query<{ seq: number; receivedAt: number }>(this.q.prunable, [
      before,
      cursor.afterAt,
      cursor.afterSeq,
      pruneBatch
    ])
    const last = rows[rows.length - 1]
    if (!last) return { messages: 0, deliveries: 0, looked: 0 }
    const kept = await client.query<{ seq: number }>(this.q.stillPrunable, [rows.map(r => r.seq)])
    const seqs = kept.rows.map(r => r.seq)
    let messages = 0
    let deliveries = 0
    if (seqs.length > 0) {
      deliveries = (await client.query(this.q.pruneDeliveries, [seqs])).rowCount ?? 0
      messages = (await client.query(this.q.pruneMessages, [seqs])).rowCount ?? 0
    }
    return { messages, deliveries, last, looked: rows.length }
  }
}
