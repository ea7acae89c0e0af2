import type Database from 'better-sqlite3'
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
  ConversationFilter,
  ConversationSummary,
  DeadLetterSelector,
  DeliveryAttempt,
  PruneResult,
  StoredMessage
} from './types.js'

const ids = (rows: { id: number }[]) => JSON.stringify(rows.map(r => r.id))

/**
 * What an operator does with the outbox of a SQLite store: look at conversations, revive or drop
 * dead letters, replay a conversation to a relay, count the backlog and prune what is delivered.
 * Each change is one transaction, so the lanes' pending counts always match their deliveries.
 */
export class SqliteOutboxAdmin {
  private readonly q

  constructor(private readonly db: Database.Database) {
    // A selector names a delivery or a relay; each has a statement of its own so each uses its index.
    const deadWhere = `d.status = 'dead' AND (@source IS NULL OR l.source = @source) AND (@conversationId IS NULL OR l.conversation_id = @conversationId)`
    this.q = {
      conversations: db.prepare(`SELECT source, conversation_id AS conversationId, COUNT(*) AS messages,
          MIN(received_at) AS firstReceivedAt, MAX(received_at) AS lastReceivedAt
        FROM messages m WHERE (@source IS NULL OR source = @source)
          AND (@search IS NULL OR instr(lower(conversation_id), lower(@search)) > 0)
        GROUP BY source, conversation_id
        HAVING (@afterAt IS NULL OR MAX(received_at) < @afterAt
          OR (MAX(received_at) = @afterAt AND (source, conversation_id) > (@afterSource, @afterConversation)))
          AND ((@relay IS NULL AND @status IS NULL) OR EXISTS (SELECT 1 FROM lanes l
            WHERE l.source = m.source AND l.conversation_id = m.conversation_id
              AND (@relay IS NULL OR l.relay = @relay)
              AND (@status IS NULL OR @status = 'delivered'
                OR (@status = 'pending' AND EXISTS (SELECT 1 FROM deliveries d WHERE d.lane_id = l.id AND d.status = 'pending'))
                OR (@status = 'dead' AND l.id IN (SELECT lane_id FROM deliveries WHERE status = 'dead')))))
          AND (@status IS NOT 'delivered' OR NOT EXISTS (SELECT 1 FROM lanes l
            WHERE l.source = m.source AND l.conversation_id = m.conversation_id
              AND (@relay IS NULL OR l.relay = @relay)
              AND (EXISTS (SELECT 1 FROM deliveries d WHERE d.lane_id = l.id AND d.status = 'pending')
                OR l.id IN (SELECT lane_id FROM deliveries WHERE status = 'dead'))))
        ORDER BY lastReceivedAt DESC, source, conversation_id LIMIT @limit`),
      destinations: db.prepare(`SELECT l.relay,
          COUNT(CASE WHEN d.status = 'pending' THEN 1 END) AS pending,
          COUNT(CASE WHEN d.status = 'delivered' THEN 1 END) AS delivered,
          COUNT(CASE WHEN d.status = 'dead' THEN 1 END) AS dead
        FROM lanes l LEFT JOIN (SELECT d.lane_id, d.status FROM messages m JOIN deliveries d ON d.seq = m.seq
          WHERE m.source = @source AND m.conversation_id = @conversationId) d ON d.lane_id = l.id
        WHERE l.source = @source AND l.conversation_id = @conversationId GROUP BY l.id ORDER BY l.relay`),
      attempts: db.prepare(`SELECT delivery_id AS deliveryId, attempt, outcome, error, posted, at FROM delivery_attempts
        WHERE delivery_id IN (SELECT value FROM json_each(?)) ORDER BY delivery_id, id`),
      messages: db.prepare(
        `SELECT seq, payload FROM messages WHERE source = ? AND conversation_id = ? AND seq > ? ORDER BY seq LIMIT ?`
      ),
      deadById: db.prepare(`SELECT d.id, d.lane_id AS laneId FROM deliveries d JOIN lanes l ON l.id = d.lane_id
        WHERE d.id = @deliveryId AND (@relay IS NULL OR d.relay = @relay) AND ${deadWhere}`),
      deadByRelay: db.prepare(`SELECT d.id, d.lane_id AS laneId FROM deliveries d JOIN lanes l ON l.id = d.lane_id
        WHERE d.relay = @relay AND ${deadWhere} ORDER BY d.id`),
      revive: db.prepare(`UPDATE deliveries SET status = 'pending', attempts = 0, updated_at = ?
        WHERE id IN (SELECT value FROM json_each(?)) AND status = 'dead'`),
      // Due now, unless the lane is due earlier already; a lane's lease is left to its holder.
      wakeLane: db.prepare(
        'UPDATE lanes SET pending = pending + @n, due_at = MIN(COALESCE(due_at, @now), @now) WHERE id = @id'
      ),
      drop: db.prepare(`DELETE FROM deliveries WHERE id IN (SELECT value FROM json_each(?)) AND status = 'dead'`),
      conversationSeqs: db.prepare('SELECT seq FROM messages WHERE source = ? AND conversation_id = ? ORDER BY seq'),
      addToLane:
        db.prepare(`INSERT INTO lanes (relay, source, conversation_id, pending, due_at) VALUES (@relay, @source, @conversationId, @n, @now)
        ON CONFLICT (relay, source, conversation_id) DO UPDATE SET pending = pending + excluded.pending, due_at = COALESCE(due_at, excluded.due_at)
        RETURNING id`),
      queueAll: db.prepare(`INSERT INTO deliveries (seq, lane_id, relay, created_at, updated_at)
        SELECT seq, @laneId, @relay, @now, @now FROM messages WHERE source = @source AND conversation_id = @conversationId ORDER BY seq`),
      backlog:
        db.prepare(`SELECT 'pending' AS kind, relay, SUM(pending) AS n FROM lanes WHERE pending > 0 GROUP BY relay
        UNION ALL SELECT 'dead', relay, COUNT(*) FROM deliveries WHERE status = 'dead' GROUP BY relay
        UNION ALL SELECT 'oldest', d.relay, MIN(m.received_at) FROM deliveries d JOIN messages m ON m.seq = d.seq WHERE d.status = 'pending' GROUP BY d.relay`),
      // Walks old messages in (received_at, seq) order from a cursor, so the ones kept are read once.
      prunable: db.prepare(`SELECT seq, received_at AS receivedAt FROM messages m
        WHERE received_at < @before AND (received_at, seq) > (@afterAt, @afterSeq)
          AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.seq = m.seq AND d.status <> 'delivered')
        ORDER BY received_at, seq LIMIT @limit`),
      pruneDeliveries: db.prepare('DELETE FROM deliveries WHERE seq IN (SELECT value FROM json_each(?))'),
      pruneMessages: db.prepare('DELETE FROM messages WHERE seq IN (SELECT value FROM json_each(?))')
    }
  }

  listConversations(filter: ConversationFilter): ConversationSummary[] {
    return this.db.transaction(() => {
      const rows = this.q.conversations.all({
        source: filter.source ?? null,
        limit: filter.limit ?? 100,
        afterAt: filter.after?.lastReceivedAt ?? null,
        afterSource: filter.after?.source ?? null,
        afterConversation: filter.after?.conversationId ?? null,
        relay: filter.relay ?? null,
        status: filter.status ?? null,
        search: filter.search || null
      }) as Omit<ConversationSummary, 'destinations'>[]
      return rows.map(row => ({
        ...row,
        destinations: this.q.destinations.all({
          source: row.source,
          conversationId: row.conversationId
        }) as ConversationSummary['destinations']
      }))
    })()
  }

  listMessages(
    source: string,
    conversationId: string,
    options: { afterSeq?: number; limit?: number } = {}
  ): StoredMessage[] {
    const rows = this.q.messages.all(source, conversationId, options.afterSeq ?? 0, options.limit ?? 100) as {
      seq: number
      payload: string
    }[]
    return rows.map(r => ({ seq: r.seq, message: JSON.parse(r.payload) }))
  }

  private deadLetters(selector: DeadLetterSelector): { id: number; laneId: number }[] {
    checkSelector(selector)
    const params = selectorParams(selector)
    const statement = selector.deliveryId === undefined ? this.q.deadByRelay : this.q.deadById
    return statement.all(params) as { id: number; laneId: number }[]
  }

  replayDead(selector: DeadLetterSelector, now: number): number {
    return this.db.transaction(() => {
      const letters = this.deadLetters(selector)
      if (letters.length === 0) return 0
      this.q.revive.run(now, ids(letters))
      const perLane = new Map<number, number>()
      for (const { laneId } of letters) perLane.set(laneId, (perLane.get(laneId) ?? 0) + 1)
      for (const [id, n] of perLane) this.q.wakeLane.run({ id, n, now })
      return letters.length
    })()
  }

  dropDead(selector: DeadLetterSelector): number {
    return this.db.transaction(() => {
      const letters = this.deadLetters(selector)
      return letters.length === 0 ? 0 : this.q.drop.run(ids(letters)).changes
    })()
  }

  replayConversation(source: string, conversationId: string, relay: string, now: number): number {
    return this.db.transaction(() => {
      const n = this.q.conversationSeqs.all(source, conversationId).length
      if (n === 0) return 0
      const lane = this.q.addToLane.get({ relay, source, conversationId, n, now }) as { id: number }
      return this.q.queueAll.run({ laneId: lane.id, relay, source, conversationId, now }).changes
    })()
  }

  listAttempts(deliveryIds: number[]): DeliveryAttempt[] {
    const rows = this.q.attempts.all(JSON.stringify(deliveryIds)) as (Omit<DeliveryAttempt, 'posted'> & {
      error: string | null
      posted: string | null
    })[]
    return rows.map(({ error, posted, ...row }) => ({
      ...row,
      ...(error === null ? {} : { error }),
      ...(posted === null ? {} : { posted: JSON.parse(posted) })
    }))
  }

  backlog(): BacklogStats {
    return backlogFrom(this.q.backlog.all() as BacklogRow[])
  }

  /** One batch of pruning in one transaction. */
  private pruneOnce(before: number, cursor: PruneCursor): PruneBatch {
    return this.db.transaction(() => {
      const rows = this.q.prunable.all({ before, ...cursor, limit: pruneBatch }) as {
        seq: number
        receivedAt: number
      }[]
      const last = rows[rows.length - 1]
      if (!last) return { messages: 0, deliveries: 0, looked: 0 }
      const seqs = JSON.stringify(rows.map(r => r.seq))
      const deliveries = this.q.pruneDeliveries.run(seqs).changes
      const messages = this.q.pruneMessages.run(seqs).changes
      return { messages, deliveries, last, looked: rows.length }
    })()
  }

  prune(before: number): Promise<PruneResult> {
    // SQLite works on the event loop: let webhooks in between batches.
    return pruneInBatches(
      before,
      (b, cursor) => this.pruneOnce(b, cursor),
      () => new Promise(resolve => setImmediate(resolve))
    )
  }
}
