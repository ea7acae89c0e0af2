/*
 * The core of combined delivery (#15), in process: a real Dispatcher and SqliteStore, and a relay
 * whose platform takes one post per PACE_MS per channel (all conversations share one channel, as
 * in a busy Slack channel). It drains the same backlog with one message per post and with
 * combined posts, and times a new conversation's first message arriving behind it.
 *   npx tsx bench/batch-dispatch.ts   (TURN_POSTS=1000000 TURN_MS=1000000: without turns)
 * Not part of npm test; the figures are in bench/README.md. Compare the ratios within one run.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Dispatcher } from '../src/dispatch/dispatcher.js'
import type { RelayMessage } from '../src/message.js'
import type { DeliveryOutcome, Relay, RunOutcome } from '../src/relays/types.js'
import { SqliteStore } from '../src/store/sqlite.js'

const PACE_MS = Number(process.env.PACE_MS ?? 50)
const CONVERSATIONS = 12
const PER_CONVERSATION = 20
const silent = { debug() {}, info() {}, warn() {}, error() {} }

/** One channel: posts go out one at a time, PACE_MS apart. */
function pacedChannel() {
  let free = 0
  let posts = 0
  return {
    get posts() {
      return posts
    },
    async post(): Promise<void> {
      const now = performance.now()
      const at = Math.max(now, free)
      free = at + PACE_MS
      posts++
      await new Promise(resolve => setTimeout(resolve, at + PACE_MS - now))
    }
  }
}

function message(conversationId: string, n: number): RelayMessage {
  return {
    source: 'default',
    messageId: `${conversationId}-${n}`,
    conversationId,
    type: 'ANSWER',
    text: `answer ${n} `.repeat(10),
    flowOutput: [],
    createdAt: Date.now(),
    receivedAt: Date.now(),
    format: 'v1'
  }
}

async function run(maxMessages: number): Promise<{ drainS: number; posts: number; newcomerS: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-batch-'))
  const store = new SqliteStore({ path: join(dir, 'relay.db') })
  const channel = pacedChannel()
  let newcomerAt: number | undefined
  const single: Relay = {
    async deliver(m): Promise<DeliveryOutcome> {
      await channel.post()
      if (m.conversationId === 'newcomer') newcomerAt = performance.now()
      return { status: 'delivered' }
    }
  }
  const combined: Relay = {
    runLimits: { maxMessages },
    async deliverRun(messages): Promise<RunOutcome> {
      await channel.post()
      if (messages.some(m => m.conversationId === 'newcomer')) newcomerAt = performance.now()
      return { delivered: messages.map(() => ({})) }
    }
  }
  for (let n = 0; n < PER_CONVERSATION; n++)
    for (let c = 0; c < CONVERSATIONS; c++) await store.accept(message(`c${c}`, n), ['chat'])
  const dispatcher = new Dispatcher({
    concurrency: 4,
    maxAttempts: 12,
    backoffBaseMs: 1000,
    backoffMaxMs: 300_000,
    deliveryTimeoutMs: 60_000,
    pollIntervalMs: 50,
    // TURN_POSTS=1000000 (and TURN_MS) show what a newcomer waits without the lanes' turns.
    laneTurnPosts: Number(process.env.TURN_POSTS ?? 4),
    laneTurnMs: Number(process.env.TURN_MS ?? 1000),
    store,
    relays: new Map([['chat', maxMessages > 1 ? combined : single]]),
    logger: silent
  })
  const started = performance.now()
  dispatcher.start()
  await new Promise(resolve => setTimeout(resolve, 20 * PACE_MS))
  const arrived = performance.now()
  await store.accept(message('newcomer', 0), ['chat'])
  dispatcher.notify()
  while (Object.keys(await store.pendingByRelay()).length > 0) await new Promise(r => setTimeout(r, 20))
  const drainS = (performance.now() - started) / 1000
  await dispatcher.stop(1000)
  await store.close()
  rmSync(dir, { recursive: true, force: true })
  return { drainS, posts: channel.posts, newcomerS: ((newcomerAt ?? Number.NaN) - arrived) / 1000 }
}

console.log(
  `${CONVERSATIONS} conversations × ${PER_CONVERSATION} messages waiting, one channel taking a post per ${PACE_MS} ms, concurrency 4`
)
console.log('maxMessages | posts | drain (s) | newcomer first message (s)')
for (const max of [1, 5, 10]) {
  const r = await run(max)
  console.log(`${max} | ${r.posts} | ${r.drainS.toFixed(2)} | ${r.newcomerS.toFixed(2)}`)
}
