import { writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { Test } from 'tap'
import { receiver } from './receiver.js'

export const TRAFFIC_TOKEN = 'traffic-test-token'

/** A message as the http-forwarder posts it: enough to tell which one it is. */
interface Forwarded {
  conversationId: string
  messageId: string
}

/** What a run delivered, judged against what it acknowledged. */
export interface Figures {
  acknowledged: number
  delivered: number
  lost: number
  outOfOrder: number
  duplicates: number
  /** The longest time an acknowledged message waited, from its 200 to its first arrival. */
  longestStallMs: number
  /** Answers other than 200, by status and x-relay-error (or the network error). */
  refusals: Record<string, number>
}

/**
 * A receiver for the http-forwarder that notes when each message first arrives, and a load that
 * posts conversations' messages one after the other, as GPTBots does: a message is sent again,
 * to the next replica, until one answers 200, and only then comes the conversation's next one.
 */
export async function traffic(t: Test, options: { conversations: number; prefix?: string; pauseMs?: number }) {
  const arrivals = new Map<string, number>()
  const order = new Map<string, string[]>()
  let copies = 0
  const hook = await receiver(t, request => {
    const message = JSON.parse(request.body) as Forwarded
    copies++
    if (!arrivals.has(message.messageId)) {
      arrivals.set(message.messageId, Date.now())
      const seen = order.get(message.conversationId) ?? []
      seen.push(message.messageId)
      order.set(message.conversationId, seen)
    }
    return { status: 200 }
  })
  const acked = new Map<string, { id: string; at: number }[]>()
  const refusals: Record<string, number> = {}
  const prefix = options.prefix ?? 'conv'
  const conversations = Array.from({ length: options.conversations }, (_, c) => `${prefix}-${c}`)
  for (const c of conversations) acked.set(c, [])
  let stopping = false
  /** Set when the test ends early: messages still being sent are given up. */
  let abandon = false
  let counter = 0
  t.teardown(() => {
    stopping = true
    abandon = true
  })

  const postOne = async (urls: () => string[], conversation: string, n: number) => {
    const id = `${conversation}-${String(n).padStart(5, '0')}`
    for (let attempt = 0; !abandon; attempt++) {
      const targets = urls()
      if (targets.length === 0) {
        // Every replica is down for a moment: GPTBots would retry later too.
        refusals['no replica'] = (refusals['no replica'] ?? 0) + 1
        await new Promise(r => setTimeout(r, 200))
        continue
      }
      const url = targets[(n + attempt + conversation.length) % targets.length]!
      let status: string
      try {
        const res = await fetch(`${url}/webhook`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${TRAFFIC_TOKEN}` },
          body: JSON.stringify({
            message_id: id,
            message_type: 'ANSWER',
            text: `n=${n}`,
            create_time: Math.floor(Date.now() / 1000),
            conversation_id: conversation
          }),
          signal: AbortSignal.timeout(15_000)
        })
        await res.arrayBuffer()
        if (res.status === 200) {
          acked.get(conversation)!.push({ id, at: Date.now() })
          return
        }
        status = `${res.status} ${res.headers.get('x-relay-error') ?? ''}`.trim()
      } catch (error) {
        const cause = (error as { cause?: { code?: string } }).cause
        status = cause?.code ?? (error as Error).name
      }
      refusals[status] = (refusals[status] ?? 0) + 1
      await new Promise(r => setTimeout(r, 50))
    }
  }

  return {
    hookUrl: hook.url,
    conversations,
    /** Posts until stop(), each conversation one message at a time, spread over `urls()`. */
    run(urls: () => string[]): Promise<void> {
      return Promise.all(
        conversations.map(async c => {
          for (let n = 0; !stopping; n++) {
            await postOne(urls, c, n)
            counter++
            if (options.pauseMs) await new Promise(r => setTimeout(r, options.pauseMs))
          }
        })
      ).then(() => undefined)
    },
    stop() {
      stopping = true
    },
    acknowledged: () => counter,
    arrived: () => arrivals.size,
    /** True when every acknowledged message has arrived. */
    complete(): boolean {
      for (const ids of acked.values()) for (const { id } of ids) if (!arrivals.has(id)) return false
      return true
    },
    figures(): Figures {
      let acknowledged = 0
      let lost = 0
      let outOfOrder = 0
      let longestStallMs = 0
      for (const [conversation, ids] of acked) {
        acknowledged += ids.length
        for (const { id, at } of ids) {
          const arrived = arrivals.get(id)
          if (arrived === undefined) lost++
          else longestStallMs = Math.max(longestStallMs, arrived - at)
        }
        // The first arrivals of a conversation must follow the order of its acknowledgements.
        const wanted = ids.map(i => i.id)
        const seen = (order.get(conversation) ?? []).filter(id => wanted.includes(id))
        for (let i = 0; i < seen.length; i++) if (seen[i] !== wanted[i]) outOfOrder++
      }
      return {
        acknowledged,
        delivered: arrivals.size,
        lost,
        outOfOrder,
        duplicates: copies - arrivals.size,
        longestStallMs,
        refusals: { ...refusals }
      }
    }
  }
}

/** A config file for replicas of one relay on PostgreSQL at `url`/`schema` (or `store`), forwarding to `hookUrl`. */
export function relayConfig(
  t: Test,
  options: {
    url?: string
    schema?: string
    hookUrl: string
    dispatch?: Record<string, unknown>
    /** Another store than PostgreSQL at url/schema. */
    store?: Record<string, unknown>
  }
): string {
  const file = join(t.testdir({}), 'relay.json')
  writeFileSync(
    file,
    JSON.stringify({
      auth: { tokens: [TRAFFIC_TOKEN] },
      // The load is meant to press the store, not the per-source budget.
      intake: { rateLimit: { max: 0 } },
      store: options.store ?? { driver: 'postgres', url: options.url, schema: options.schema },
      dispatch: { backoffBaseMs: 50, backoffMaxMs: 500, ...options.dispatch },
      relays: {
        forward: {
          type: resolve('plugins/http-forwarder'),
          url: options.hookUrl,
          secret: 'sixteen-characters-at-least',
          timeoutMs: 5000
        }
      },
      log: { level: process.env.RELAY_LOG_LEVEL ?? 'warn' }
    })
  )
  return file
}

export const describeFigures = (f: Figures) =>
  `acknowledged ${f.acknowledged}, lost ${f.lost}, out of order ${f.outOfOrder}, duplicates ${f.duplicates}, ` +
  `longest stall ${f.longestStallMs} ms; refused: ${JSON.stringify(f.refusals)}`
