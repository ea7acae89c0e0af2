import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { Test } from 'tap'

export const TRAFFIC_TOKEN = 'traffic-test-token'

/**
 * Starts test/helpers/arrivals-server.mjs, the http-forwarder's receiver, as its own process, and
 * calls `arrived` for each request it took, with the time it took it. TRAFFIC_TRACE=FILE keeps
 * its lines (time, attempt, conversation, message) in FILE, to follow a slow message.
 */
async function arrivalsServer(
  t: Test,
  arrived: (at: number, conversationId: string, messageId: string) => void
): Promise<{ url: string }> {
  const child = spawn(process.execPath, [resolve('test/helpers/arrivals-server.mjs')], {
    stdio: ['pipe', 'pipe', 'inherit']
  })
  const trace: string[] = []
  t.teardown(() => {
    child.stdin!.end()
    child.kill()
    if (process.env.TRAFFIC_TRACE) writeFileSync(process.env.TRAFFIC_TRACE, trace.join('\n'))
  })
  let rest = ''
  return new Promise((ready, fail) => {
    child.once('exit', code => fail(new Error(`the receiver exited with ${code}`)))
    child.stdout!.on('data', chunk => {
      const lines = (rest + chunk).split('\n')
      rest = lines.pop()!
      for (const line of lines) {
        const [first, attempt, conversationId, messageId] = line.split(' ')
        if (first === 'listening') ready({ url: `http://127.0.0.1:${attempt}/hook` })
        else if (messageId !== undefined && messageId !== '-') {
          if (process.env.TRAFFIC_TRACE) trace.push(line)
          arrived(Number(first), conversationId!, messageId)
        }
      }
    })
  })
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
  /** The message that waited longest: when it was acknowledged and by which replica, and when it arrived. */
  worst?: { id: string; ackedAt: number; arrivedAt: number; via: string }
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
  const hook = await arrivalsServer(t, (at, conversationId, messageId) => {
    copies++
    if (!arrivals.has(messageId)) {
      arrivals.set(messageId, at)
      const seen = order.get(conversationId) ?? []
      seen.push(messageId)
      order.set(conversationId, seen)
    }
  })
  const acked = new Map<string, { id: string; at: number; via: string }[]>()
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
          acked.get(conversation)!.push({ id, at: Date.now(), via: url })
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
    /**
     * For each moment in `times` (kills, in order): how long until every conversation that was
     * waiting then (a message acknowledged before, not yet arrived) had a message arrive. A
     * conversation still waiting at the next moment is judged there instead.
     */
    resumedAfter(times: number[]): number[] {
      return times.map((at, i) => {
        const next = times[i + 1] ?? Number.POSITIVE_INFINITY
        let longest = 0
        for (const ids of acked.values()) {
          const waiting = ids.some(m => m.at < at && (arrivals.get(m.id) ?? Number.POSITIVE_INFINITY) > at)
          if (!waiting) continue
          const resumed = Math.min(...ids.map(m => arrivals.get(m.id) ?? Number.POSITIVE_INFINITY).filter(a => a > at))
          if (resumed < next) longest = Math.max(longest, resumed - at)
          else if (!Number.isFinite(resumed)) longest = Number.POSITIVE_INFINITY
        }
        return longest
      })
    },
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
      let worst: Figures['worst']
      for (const [conversation, ids] of acked) {
        acknowledged += ids.length
        for (const { id, at, via } of ids) {
          const arrived = arrivals.get(id)
          if (arrived === undefined) lost++
          else if (arrived - at >= longestStallMs) {
            longestStallMs = arrived - at
            worst = { id, ackedAt: at, arrivedAt: arrived, via }
          }
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
        refusals: { ...refusals },
        worst
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
    /** The forwarder's request timeout; 5 s unless given. */
    forwardTimeoutMs?: number
    /** Every setting at its default: no quicker retries, the forwarder's own timeout. */
    defaults?: boolean
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
      dispatch: options.defaults
        ? { ...options.dispatch }
        : { backoffBaseMs: 50, backoffMaxMs: 500, ...options.dispatch },
      relays: {
        forward: {
          // The built plugin: its TypeScript source would be compiled by tsx at every start.
          type: resolve('dist/plugins/http-forwarder'),
          url: options.hookUrl,
          secret: 'sixteen-characters-at-least',
          timeoutMs: options.defaults ? undefined : (options.forwardTimeoutMs ?? 5000)
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
