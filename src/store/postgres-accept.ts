import type pg from 'pg'
import type { RelayMessage } from '../message.js'
import { connect } from './postgres-connection.js'
import type { AcceptResult } from './types.js'

export interface Accepting {
  message: RelayMessage
  destinations: string[]
}

/**
 * One statement stores a whole batch, so a batch costs one round trip and one commit (autocommit)
 * instead of BEGIN, three inserts and COMMIT. Rows go in as parallel arrays (unnest) in the
 * batch's order (WITH ORDINALITY / ORDER BY ord), so identities are handed out in the order the
 * messages were accepted. Deliveries come as (message ordinal, relay) pairs.
 */
export function acceptStatements(s: string, notify: { channel: string; self: string }) {
  return {
    notify,
    // Prepared once per connection (named), so the server plans it once.
    name: `gptbots-relay-accept ${s}`,
    batch: `WITH incoming AS (
        SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::json[], $6::bigint[]) WITH ORDINALITY
          AS m (source, message_id, type, conversation_id, payload, received_at, ord)
      ),
      -- Dedupe across replicas rests on the unique key: a message another transaction is inserting
      -- makes this one wait for it, then skip.
      stored AS (
        INSERT INTO ${s}.messages (source, message_id, type, conversation_id, payload, received_at)
        SELECT source, message_id, type, conversation_id, payload, received_at FROM incoming ORDER BY ord
        ON CONFLICT (source, message_id, type) DO NOTHING
        RETURNING seq, source, message_id, type
      ),
      wanted AS (
        SELECT d.ord, d.relay, i.source, i.conversation_id, i.received_at, st.seq
        FROM unnest($7::bigint[], $8::text[]) WITH ORDINALITY AS d (message, relay, ord)
        JOIN incoming i ON i.ord = d.message
        JOIN stored st ON st.source = i.source AND st.message_id = i.message_id AND st.type = i.type
      ),
      -- Inserting or updating a lane row locks it until commit, and a delivery row can only be
      -- formed (and draw its id) once its lane row was: so two transactions adding to one lane do
      -- so one after the other, and the later one's delivery ids are higher. A lane's id order is
      -- its commit (acknowledgement) order, even when message seqs were drawn in another order.
      -- Lanes are locked in key order so that two batches touching the same lanes cannot deadlock.
      lanes AS (
        INSERT INTO ${s}.lanes AS l (relay, source, conversation_id, pending, due_at)
        SELECT relay, source, conversation_id, count(*), min(received_at) FROM wanted
        GROUP BY relay, source, conversation_id
        ORDER BY relay, source, conversation_id
        ON CONFLICT (relay, source, conversation_id)
          DO UPDATE SET pending = l.pending + excluded.pending, due_at = COALESCE(l.due_at, excluded.due_at)
        RETURNING id, relay, source, conversation_id
      ),
      deliveries AS (
        INSERT INTO ${s}.deliveries (seq, lane_id, relay, created_at, updated_at)
        SELECT w.seq, l.id, w.relay, w.received_at, w.received_at
        FROM wanted w JOIN lanes l ON l.relay = w.relay AND l.source = w.source AND l.conversation_id = w.conversation_id
        ORDER BY w.ord
      )
      -- Wakes the other replicas' dispatchers (LISTEN, postgres-listen.ts) when the statement
      -- commits: once per batch that stored anything (an uncorrelated subquery runs once).
      SELECT seq, source, message_id, type, (SELECT pg_notify($9, $10)) IS NULL AS notified FROM stored`
  }
}

export type AcceptStatements = ReturnType<typeof acceptStatements>

const messageKey = (source: string, messageId: string, type: string) => JSON.stringify([source, messageId, type])
/** SQLSTATEs after which the same statement may simply be run again: deadlock, serialization failure. */
const transient = new Set(['40001', '40P01'])

/**
 * Stores a batch in one statement, its own transaction; one result per entry, in order. A
 * deadlock with another replica (both inserting the same message ids) rolls the statement back
 * whole, so it is tried again a few times.
 */
export async function acceptBatch(
  pool: pg.Pool,
  url: string,
  sql: AcceptStatements,
  batch: Accepting[]
): Promise<AcceptResult[]> {
  // Only the first of several equal messages in one batch goes to the database; the rest are its duplicates.
  const firstIndex = new Map<string, number>()
  batch.forEach(({ message: m }, i) => {
    const key = messageKey(m.source, m.messageId, m.type)
    if (!firstIndex.has(key)) firstIndex.set(key, i)
  })
  const fresh = [...firstIndex.values()].map(i => batch[i]!)
  // One delivery per destination, even if the router named a relay twice.
  const deliveryMessage: number[] = []
  const deliveryRelay: string[] = []
  fresh.forEach(({ destinations }, i) => {
    for (const relay of new Set(destinations)) {
      deliveryMessage.push(i + 1)
      deliveryRelay.push(relay)
    }
  })
  const values = [
    fresh.map(f => f.message.source),
    fresh.map(f => f.message.messageId),
    fresh.map(f => f.message.type),
    fresh.map(f => f.message.conversationId),
    fresh.map(f => JSON.stringify(f.message)),
    fresh.map(f => f.message.receivedAt),
    deliveryMessage,
    deliveryRelay,
    sql.notify.channel,
    sql.notify.self
  ]
  let rows: { seq: number; source: string; message_id: string; type: string }[]
  for (let attempt = 1; ; attempt++) {
    const client = await connect(pool, url)
    try {
      rows = (
        await client.query<{ seq: number; source: string; message_id: string; type: string }>({
          name: sql.name,
          text: sql.batch,
          values
        })
      ).rows
      client.release()
      break
    } catch (error) {
      // An error the server reported (a five-character SQLSTATE) leaves the connection usable; a broken socket does not.
      const code = (error as { code?: string }).code
      client.release(code !== undefined && /^[0-9A-Z]{5}$/.test(code) ? undefined : (error as Error))
      if (!(code && transient.has(code) && attempt < 3)) throw error
    }
  }
  const seqs = new Map(rows.map(r => [messageKey(r.source, r.message_id, r.type), r.seq]))
  return batch.map(({ message: m }, i) => {
    const key = messageKey(m.source, m.messageId, m.type)
    const seq = seqs.get(key)
    return seq === undefined || firstIndex.get(key) !== i ? { duplicate: true } : { duplicate: false, seq }
  })
}
