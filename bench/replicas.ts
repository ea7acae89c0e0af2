/*
 * Replicas on PostgreSQL (#16): throughput with 1, 2 and 4 replicas, and the failover time with
 * default settings. Not part of `npm test`; needs TEST_DATABASE_URL (each run uses a schema of its
 * own, dropped afterwards). Build first (`npm run build`).
 *
 *   TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npx tsx bench/replicas.ts [throughput] [latency] [failover]
 */
import { readdirSync, readFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { loadavg } from 'node:os'
import { join } from 'node:path'
import autocannon from 'autocannon'
import pg from 'pg'
import { AUTH, DIST, baseConfig, f, median, percentile, sleep, startRelay, tempDir, type Running } from './lib.js'

const serverUrl = process.env.TEST_DATABASE_URL
if (!serverUrl) {
  console.error('TEST_DATABASE_URL is not set: the replica bench needs a PostgreSQL server')
  process.exit(2)
}
// A database of the bench's own on that server, so that its transaction count is the relays' alone.
const url = (() => {
  const u = new URL(serverUrl)
  u.pathname = '/gptbots_relay_bench'
  return u.toString()
})()
{
  const admin = new pg.Client({ connectionString: serverUrl })
  await admin.connect()
  const { rowCount } = await admin.query("SELECT 1 FROM pg_database WHERE datname = 'gptbots_relay_bench'")
  if (rowCount === 0) await admin.query('CREATE DATABASE gptbots_relay_bench')
  await admin.end()
}
/** Transactions committed in the bench's database so far (PostgreSQL's statistics lag by up to a second). */
async function transactions(db: { query(sql: string): Promise<pg.QueryResult> }): Promise<number> {
  await sleep(1200)
  const { rows } = await db.query(
    "SELECT xact_commit + xact_rollback AS n FROM pg_stat_database WHERE datname = 'gptbots_relay_bench'"
  )
  return Number(rows[0].n)
}
const chosen = new Set(process.argv.slice(2))
const wants = (name: string) => chosen.size === 0 || chosen.has(name)
const load = () =>
  loadavg()
    .map(n => f(n, 2))
    .join(' ')

/** A receiver for the http-forwarder: first arrival of each message id, and an optional hold on answers. */
async function receiver() {
  const first = new Map<string, number>()
  let copies = 0
  const state = { hold: (_id: string): boolean => false }
  const held: ServerResponse[] = []
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = []
    request.on('data', c => chunks.push(c))
    request.on('end', () => {
      const { messageId } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { messageId: string }
      if (state.hold(messageId)) {
        held.push(response)
        return
      }
      copies++
      if (!first.has(messageId)) first.set(messageId, Date.now())
      response.end('ok')
    })
  })
  await new Promise<void>(done => server.listen(0, '127.0.0.1', done))
  const { port } = server.address() as { port: number }
  return {
    url: `http://127.0.0.1:${port}/hook`,
    first,
    state,
    copies: () => copies,
    close() {
      server.closeAllConnections()
      server.close()
    }
  }
}

async function schemaOf(): Promise<{
  schema: string
  drop(): Promise<void>
  query(sql: string): Promise<pg.QueryResult>
}> {
  const schema = `bench_replicas_${process.pid}_${Date.now()}`
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  return {
    schema,
    query: sql => client.query(sql.replaceAll('$schema', `"${schema}"`)),
    async drop() {
      await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
      await client.end()
    }
  }
}

function replicaConfig(schema: string, hookUrl: string): object {
  // Default dispatch settings (lease, poll, concurrency, timeouts); logs at warn, as a busy deployment would.
  return {
    ...baseConfig(
      { driver: 'postgres', url, schema },
      { hook: { type: join(DIST, 'plugins/http-forwarder'), url: hookUrl, secret: 'bench-secret-0123456789' } }
    ),
    log: { level: 'warn' }
  }
}

async function startReplicas(n: number, schema: string, hookUrl: string): Promise<Running[]> {
  const config = replicaConfig(schema, hookUrl)
  // The first creates the schema; the others find it.
  const first = await startRelay(tempDir('replica'), config)
  const others = await Promise.all(Array.from({ length: n - 1 }, () => startRelay(tempDir('replica'), config)))
  return [first, ...others]
}

/**
 * CPU seconds used so far: by the given processes (the replicas), by every PostgreSQL process
 * (the server's backends included) and by the whole machine, read from /proc.
 */
function cpuSeconds(pids: number[]): { replicas: number; postgres: number; machine: number } {
  const tick = 100 // USER_HZ on Linux
  const ofPid = (pid: number): number => {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
      return (Number(fields[11]) + Number(fields[12])) / tick
    } catch {
      return 0
    }
  }
  let postgres = 0
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim().startsWith('postgres')) postgres += ofPid(Number(entry))
    } catch {}
  }
  const cpu = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').split(/\s+/).slice(1).map(Number)
  // user nice system idle iowait irq softirq steal: busy is all but idle and iowait
  const busy = cpu.reduce((sum, n, i) => (i === 3 || i === 4 ? sum : sum + n), 0) / tick
  return { replicas: pids.reduce((sum, pid) => sum + ofPid(pid), 0), postgres, machine: busy }
}

/**
 * Throughput: 32 connections in all, spread evenly over the replicas (as a load balancer would),
 * 10 s of unique messages over 1000 conversations; then until every acknowledged message has
 * reached the receiver. Delivered per second counts from the first POST to the last arrival.
 */
async function throughput(replicas: number): Promise<string> {
  const db = await schemaOf()
  const hook = await receiver()
  const running = await startReplicas(replicas, db.schema, hook.url)
  const xactBefore = await transactions(db)
  const before = load()
  const pids = running.map(r => r.child.pid as number)
  const cpuBefore = cpuSeconds(pids)
  const began = Date.now()
  let n = 0
  const prefix = `r${replicas}-${began}`
  const results = await Promise.all(
    running.map(relay =>
      autocannon({
        url: `${relay.url}/webhook`,
        connections: 32 / replicas,
        duration: 10,
        requests: [
          {
            method: 'POST',
            path: '/webhook',
            headers: AUTH,
            setupRequest: request => {
              const id = `${prefix}-${n++}`
              return {
                ...request,
                body: JSON.stringify({
                  message_id: id,
                  message_type: 'ANSWER',
                  text: `bench ${id}`,
                  create_time: 1679587005,
                  conversation_id: `conv-${n % 1000}`
                })
              }
            }
          }
        ]
      })
    )
  )
  const acknowledged = results.reduce((sum, r) => sum + r['2xx'], 0)
  const intakeEnded = Date.now()
  const deadline = Date.now() + 120_000
  while (hook.first.size < acknowledged && Date.now() < deadline) await sleep(50)
  const lastArrival = Math.max(...hook.first.values())
  const cpuAfter = cpuSeconds(pids)
  const during = load()
  const xacts = (await transactions(db)) - xactBefore
  for (const relay of running) await relay.stop()
  hook.close()
  await db.drop()
  const intakeRate = acknowledged / ((intakeEnded - began) / 1000)
  const deliveredRate = hook.first.size / ((lastArrival - began) / 1000)
  return (
    `${replicas} replica(s): ${acknowledged} acknowledged (${f(intakeRate, 0)} msg/s in), ` +
    `${hook.first.size} delivered (${f(deliveredRate, 0)} msg/s end to end, last ${f((lastArrival - intakeEnded) / 1000, 1)} s after intake ended), ` +
    `${hook.copies() - hook.first.size} duplicates, non-2xx ${results.reduce((s, r) => s + r.non2xx, 0)}; ` +
    `${f(xacts / hook.first.size, 1)} PostgreSQL transactions per message; ` +
    `CPU ms per message: replicas ${f((1000 * (cpuAfter.replicas - cpuBefore.replicas)) / hook.first.size, 2)}, ` +
    `PostgreSQL ${f((1000 * (cpuAfter.postgres - cpuBefore.postgres)) / hook.first.size, 2)}, ` +
    `machine ${f((1000 * (cpuAfter.machine - cpuBefore.machine)) / hook.first.size, 2)} ` +
    `(machine busy ${f((100 * (cpuAfter.machine - cpuBefore.machine)) / ((lastArrival - began) / 1000) / 2, 0)} % of 2 cores); ` +
    `load average before ${before}, after ${during}`
  )
}

/**
 * Latency at a steady rate well below saturation (BENCH_RATE, 40 msg/s by default, for 20 s over
 * 200 conversations), each message POSTed to the replicas in turn, as a load balancer would: from
 * the POST to the message's arrival at the receiver. This is what "latency with two replicas
 * stays close to one's" is about; throughput above measures saturation instead.
 */
async function latency(replicas: number): Promise<string> {
  const rate = Number(process.env.BENCH_RATE ?? 40)
  const seconds = Number(process.env.BENCH_LATENCY_S ?? 20)
  const db = await schemaOf()
  const hook = await receiver()
  const running = await startReplicas(replicas, db.schema, hook.url)
  const before = load()
  const pids = running.map(r => r.child.pid as number)
  const cpuBefore = cpuSeconds(pids)
  const sentAt = new Map<string, number>()
  const prefix = `l${replicas}-${Date.now()}`
  const posts: Promise<void>[] = []
  let failed = 0
  const began = Date.now()
  for (let i = 0; i < rate * seconds; i++) {
    await sleep(began + (i * 1000) / rate - Date.now())
    const id = `${prefix}-${i}`
    const relay = running[i % replicas] as Running
    sentAt.set(id, Date.now())
    posts.push(
      fetch(`${relay.url}/webhook`, {
        method: 'POST',
        headers: AUTH,
        body: JSON.stringify({
          message_id: id,
          message_type: 'ANSWER',
          text: `bench ${id}`,
          create_time: 1679587005,
          conversation_id: `conv-${i % 200}`
        })
      }).then(
        async response => {
          await response.text()
          if (response.status !== 200) failed++
        },
        () => {
          failed++
        }
      )
    )
  }
  await Promise.all(posts)
  const deadline = Date.now() + 60_000
  while (hook.first.size < sentAt.size - failed && Date.now() < deadline) await sleep(50)
  const lags = [...sentAt].flatMap(([id, at]) => {
    const arrived = hook.first.get(id)
    return arrived === undefined ? [] : [arrived - at]
  })
  const cpu = cpuSeconds(pids)
  const after = load()
  for (const relay of running) await relay.stop()
  hook.close()
  await db.drop()
  const perMessage = (a: number, b: number) => f((1000 * (a - b)) / Math.max(1, lags.length), 2)
  return (
    `${replicas} replica(s), ${rate} msg/s for ${seconds} s: ${lags.length} of ${sentAt.size} delivered (${failed} not accepted), ` +
    `POST → arrival p50 ${f(percentile(lags, 50), 0)} ms, p95 ${f(percentile(lags, 95), 0)} ms, p99 ${f(percentile(lags, 99), 0)} ms, ` +
    `max ${f(Math.max(...lags), 0)} ms; CPU ms per message (idle time included): replicas ${perMessage(cpu.replicas, cpuBefore.replicas)}, ` +
    `PostgreSQL ${perMessage(cpu.postgres, cpuBefore.postgres)}, machine ${perMessage(cpu.machine, cpuBefore.machine)}; ` +
    `load average before ${before}, after ${after}`
  )
}

/** What replicas cost when nothing is sent: CPU over BENCH_IDLE_S (20) seconds, by the replicas and by PostgreSQL. */
async function idle(replicas: number): Promise<string> {
  const seconds = Number(process.env.BENCH_IDLE_S ?? 20)
  const db = await schemaOf()
  const hook = await receiver()
  const running = await startReplicas(replicas, db.schema, hook.url)
  await sleep(2000)
  const pids = running.map(r => r.child.pid as number)
  const before = cpuSeconds(pids)
  await sleep(seconds * 1000)
  const after = cpuSeconds(pids)
  for (const relay of running) await relay.stop()
  hook.close()
  await db.drop()
  const share = (a: number, b: number) => f((100 * (a - b)) / seconds, 1)
  return `${replicas} idle replica(s) for ${seconds} s: replicas ${share(after.replicas, before.replicas)} % of a core in all, PostgreSQL ${share(after.postgres, before.postgres)} %`
}

/**
 * Failover: replica A alone takes one message in each of 16 conversations and starts delivering
 * them; the receiver holds every answer, so A holds all 16 lanes mid-delivery. Replica B starts
 * and is healthy; then A is killed with SIGKILL and the receiver answers at once from then on.
 * Failover time = from the kill to each conversation's message reaching the receiver from B.
 */
async function failover(): Promise<{ line: string; worst: number }> {
  const conversations = 16
  const db = await schemaOf()
  const hook = await receiver()
  const config = replicaConfig(db.schema, hook.url)
  const a = await startRelay(tempDir('replica'), config)
  let killedAt = 0
  hook.state.hold = () => killedAt === 0
  const ids = Array.from({ length: conversations }, (_, c) => `failover-${c}-${Date.now()}`)
  for (const [c, id] of ids.entries()) {
    const res = await fetch(`${a.url}/webhook`, {
      method: 'POST',
      headers: AUTH,
      body: JSON.stringify({
        message_id: id,
        message_type: 'ANSWER',
        text: id,
        create_time: 1679587005,
        conversation_id: `failover-conv-${c}`
      })
    })
    if (!res.ok) throw new Error(`intake answered ${res.status}`)
  }
  // Every lane claimed by A, its delivery in flight.
  for (let i = 0; i < 600; i++) {
    const { rows } = await db.query('SELECT count(*)::int AS n FROM $schema.lanes WHERE owner IS NOT NULL')
    if (rows[0].n === conversations) break
    await sleep(50)
  }
  const b = await startRelay(tempDir('replica'), config)
  await sleep(2000)
  const { rows: owners } = await db.query('SELECT count(DISTINCT owner)::int AS n FROM $schema.lanes')
  a.child.kill('SIGKILL')
  killedAt = Date.now()
  const deadline = Date.now() + 60_000
  while (ids.some(id => !hook.first.has(id)) && Date.now() < deadline) await sleep(20)
  const times = ids.map(id => (hook.first.get(id) ?? Number.NaN) - killedAt)
  await b.stop()
  hook.close()
  await db.drop()
  const worst = Math.max(...times)
  return {
    line:
      `${conversations} lanes held by the killed replica (${owners[0].n} owner); survivor resumed them ` +
      `${f(Math.min(...times) / 1000, 2)}–${f(worst / 1000, 2)} s after the SIGKILL (median ${f(median(times) / 1000, 2)} s); load average ${load()}`,
    worst
  }
}

console.log(`# replicas bench ${new Date().toISOString()}, load average ${load()}`)
if (wants('throughput')) {
  const counts = (process.env.BENCH_REPLICAS ?? '1,2,4').split(',').map(Number)
  for (const n of counts) console.log(await throughput(n))
}
if (wants('latency')) {
  const counts = (process.env.BENCH_REPLICAS ?? '1,2,4').split(',').map(Number)
  for (const n of counts) console.log(await latency(n))
}
if (wants('idle')) {
  const counts = (process.env.BENCH_REPLICAS ?? '1,2,4').split(',').map(Number)
  for (const n of counts) console.log(await idle(n))
}
if (wants('failover')) {
  for (let run = 1; run <= 3; run++) console.log(`failover run ${run}: ${(await failover()).line}`)
}
