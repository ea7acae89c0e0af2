/*
 * The human handoff's reply path, end to end: from a signed Slack event posted to the relay (a
 * reply typed in a handoff's thread) to its arrival at the fake GPTBots human API. The relay is
 * the built process (dist/), as in bench/run.ts; the fakes run in this process.
 *
 *   npm run build && npx tsx bench/handoff.ts
 *   TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npx tsx bench/handoff.ts   # adds PostgreSQL
 *   BENCH_HANDOFF_REPLIES=400 BENCH_HANDOFF_CONCURRENCY=1   # the defaults
 */
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import pg from 'pg'
import { slackSignature } from '../plugins/slack/inbound/signature.js'
import { FakeGptbots, fakeApiKey } from '../test/fakes/gptbots.js'
import { FakeSlack, fakeChannel, fakeToken } from '../test/fakes/slack.js'
import { AUTH, baseConfig, f, percentile, sleep, startRelay, tempDir } from './lib.js'

const replies = Number(process.env.BENCH_HANDOFF_REPLIES ?? 400)
const concurrency = Number(process.env.BENCH_HANDOFF_CONCURRENCY ?? 1)
const handoffs = 20
const signingSecret = 'bench-signing-secret-0123456789'

async function run(label: string, store: object): Promise<void> {
  const slack = await FakeSlack.start({ rateLimit: false })
  const gptbots = await FakeGptbots.start()
  process.env.GPTBOTS_API_KEY = fakeApiKey
  const relay = await startRelay(
    tempDir(`handoff-${label}`),
    baseConfig(
      store,
      {
        'slack.desk': {
          type: 'slack',
          token: fakeToken,
          channel: fakeChannel,
          apiUrl: slack.apiUrl,
          pace: { intervalMs: 0, burst: 50 },
          handoff: { signingSecret }
        }
      },
      { handoff: { relays: ['slack.desk'], gptbots: { apiUrl: gptbots.apiUrl } }, log: { level: 'warn' } }
    )
  )
  try {
    for (let i = 0; i < handoffs; i++) {
      gptbots.open.add(`bench-${i}`)
      const response = await fetch(`${relay.url}/handoff/conversation/establish`, {
        method: 'POST',
        headers: AUTH,
        body: JSON.stringify({
          conversation_id: `bench-${i}`,
          timestamp: Date.now(),
          body: [{ message_type: 'QUESTION', text: 'I need a person' }],
          user_info: { user_id: `u-${i}` }
        })
      })
      if (!response.ok) throw new Error(`establish answered ${response.status}: ${await response.text()}`)
    }
    while (slack.parents(fakeChannel).length < handoffs) await sleep(5)
    const parents = slack.parents(fakeChannel).map(p => p.ts)

    const arrived = new Map<string, () => void>()
    gptbots.onAccepted = reply => arrived.get(reply.text)?.()
    const latencies: number[] = []
    let next = 0
    const worker = async () => {
      while (next < replies) {
        const n = next++
        const text = `reply ${n} ${randomBytes(4).toString('hex')}`
        const event = slack.humanReply(fakeChannel, parents[n % handoffs]!, 'U0BENCH', text)
        const body = JSON.stringify({ type: 'event_callback', event_id: `Ev${n}`, event })
        const at = Math.floor(Date.now() / 1000)
        const landed = new Promise<void>(resolve => arrived.set(text, resolve))
        const started = performance.now()
        const response = await fetch(`${relay.url}/relays/slack.desk/events`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'x-slack-request-timestamp': String(at),
            'x-slack-signature': slackSignature(signingSecret, at, body)
          },
          body
        })
        if (response.status !== 200) throw new Error(`event answered ${response.status}: ${await response.text()}`)
        await landed
        latencies.push(performance.now() - started)
      }
    }
    await Promise.all(Array.from({ length: concurrency }, worker))
    console.log(
      `handoff ${label.padEnd(10)} replies ${replies} concurrency ${concurrency}: ` +
        `p50 ${f(percentile(latencies, 50))} ms, p90 ${f(percentile(latencies, 90))} ms, p99 ${f(percentile(latencies, 99))} ms, max ${f(Math.max(...latencies))} ms`
    )
  } finally {
    await relay.stop()
    await slack.close()
    await gptbots.close()
  }
}

const dir = tempDir('handoff-sqlite-db')
await run('sqlite', { driver: 'sqlite', path: join(dir, 'relay.db') })
const url = process.env.TEST_DATABASE_URL
if (url) {
  const schema = `bench_handoff_${process.pid}`
  const pool = new pg.Pool({ connectionString: url })
  try {
    await run('postgres', { driver: 'postgres', url, schema })
  } finally {
    await pool.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`)
    await pool.end()
  }
}
