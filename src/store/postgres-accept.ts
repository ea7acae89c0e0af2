import type pg from 'pg'
import type { RelayMessage } from '../message.js'
import type { AcceptResult } from './types.js'

export interface Accepting {
  message: RelayMessage
  destinations: string[]
}

/**
 * The three statements that store a batch of messages, each one round trip whatever the batch
 * size. Rows go in as parallel arrays (unnest) in the batch's order (WITH ORDINALITY / ORDER BY
 * ord), so identities are handed out in the order the messages were accepted.
 */
export function acceptStatements(s: string) {
  return {
    // Dedupe across replicas rests on the unique key: a message another transaction is inserting
    // makes this one wait for it, then skip.
    messages: `INSERT INTO ${s}.messages (source, message_id, type, conversation_id, payload, received_at)
      SELECT source, message_id, type, conversation_id, payload, received_at
      FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::json[], $6::bigint[]) WITH ORDINALITY
        AS m (source, message_id, type, conversation_id, payload, received_at, ord)
      ORDER BY ord
      ON CONFLICT (source, message_id, type) DO NOTHING
      RETURNING seq, source, message_id, type`,
    // Inserting or updating a lane row locks it until commit, and deliveries are added after it.
    // So two transactions adding to one lane do so one after the other, and the later one's
    // delivery ids are higher: a lane's id order is its commit (acknowledgement) order, even when
    // message seqs were drawn in another order. Lanes are locked in key order so that two
    // batches touching the same lanes cannot deadlock.
    lanes: `INSERT INTO ${s}.lanes AS l (relay, source, conversation_id, pending, due_at)
      SELECT relay, source, conversation_id, count(*), min(due_at)
      FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) AS d (relay, source, conversation_id, due_at)
      GROUP BY relay, source, conversation_id
      ORDER BY relay, source, conversation_id
      ON CONFLICT (relay, source, conversation_id)
        DO UPDATE SET pending = l.pending + excluded.pending, due_at = COALESCE(l.due_at, excluded.due_at)
      RETURNING id, relay, source, conversation_id`,
    deliveries: `INSERT INTO ${s}.deliveries (seq, lane_id, relay, created_at, updated_at)
      SELECT seq, lane_id, relay, at, at
      FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::bigint[]) WITH ORDINALITY AS d (seq, lane_id, relay, at, ord)
      ORDER BY ord`
  }
}

export type AcceptStatements = ReturnType<typeof acceptStatements>

const messageKey = (source: string, messageId: string, type: string) => JSON.stringify([source, messageId, type])
const laneKey = (relay: string, source: string, conversationId: string) => JSON.stringify([relay, source, conversationId])

interface NewDelivery { seq: number; relay: string; source: string; conversationId: string; at: number }

/** Stores a batch inside the caller's transaction; one result per entry, in order. */
export async function acceptBatch(client: pg.ClientBase, sql: AcceptStatements, batch: Accepting[]): Promise<AcceptResult[]> {
  // Only the first of several equal messages in one batch goes to the database; the rest are its duplicates.
  const firstIndex = new Map<string, number>()
  batch.forEach(({ message: m }, i) => {
    const key = messageKey(m.source, m.messageId, m.type)
    if (!firstIndex.has(key)) firstIndex.set(key, i)
  })
  const fresh = [...firstIndex.values()].map(i => batch[i]!.message)
  const inserted = await client.query<{ seq: number; source: string; message_id: string; type: string }>(sql.messages, [
    fresh.map(m => m.source), fresh.map(m => m.messageId), fresh.map(m => m.type), fresh.map(m => m.conversationId),
    fresh.map(m => JSON.stringify(m)), fresh.map(m => m.receivedAt)
  ])
  const seqs = new Map(inserted.rows.map(r => [messageKey(r.source, r.message_id, r.type), r.seq]))

  const results: AcceptResult[] = []
  const deliveries: NewDelivery[] = []
  batch.forEach(({ message: m, destinations }, i) => {
    const key = messageKey(m.source, m.messageId, m.type)
    const seq = seqs.get(key)
    if (seq === undefined || firstIndex.get(key) !== i) {
      results.push({ duplicate: true })
      return
    }
    results.push({ duplicate: false, seq })
    // One delivery per destination, even if the router named a relay twice.
    for (const relay of new Set(destinations)) deliveries.push({ seq, relay, source: m.source, conversationId: m.conversationId, at: m.receivedAt })
  })
  if (deliveries.length === 0) return results

  const lanes = await client.query<{ id: number; relay: string; source: string; conversation_id: string }>(sql.lanes, [
    deliveries.map(d => d.relay), deliveries.map(d => d.source), deliveries.map(d => d.conversationId), deliveries.map(d => d.at)
  ])
  const laneIds = new Map(lanes.rows.map(r => [laneKey(r.relay, r.source, r.conversation_id), r.id]))
  await client.query(sql.deliveries, [
    deliveries.map(d => d.seq),
    deliveries.map(d => laneIds.get(laneKey(d.relay, d.source, d.conversationId))),
    deliveries.map(d => d.relay),
    deliveries.map(d => d.at)
  ])
  return results
}
