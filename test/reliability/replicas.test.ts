import { writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import t, { type Test } from 'tap'
import { postgresOrSkip } from '../helpers/postgres.js'
import { receiver } from '../helpers/receiver.js'
import { startRelay, until } from '../helpers/process.js'

// Several relay processes on one PostgreSQL schema, as a load balancer would spread GPTBots over them.
// A lane leased by a replica that dies is taken over when its lease runs out: dispatch.leaseMs after
// the last renewal (5 s by default here; renewed every third of it while a delivery runs).

const TOKEN = 'replica-test-token'
const CONVERSATIONS = 6
const PER_CONVERSATION = 25

const db = await postgresOrSkip(t)

interface Delivered {
  conversationId: string
  messageId: string
}

async function replicas(test: Test, count: number, hookUrl: string) {
  const schema = await db!.schema(test)
  const dir = test.testdir({})
  const config = join(dir, 'relay.json')
  writeFileSync(
    config,
    JSON.stringify({
      auth: { tokens: [TOKEN] },
      store: { driver: 'postgres', url: db!.url, schema },
      dispatch: { concurrency: 4, backoffBaseMs: 20, backoffMaxMs: 200, deliveryTimeoutMs: 2000, pollIntervalMs: 200 },
      relays: {
        forward: {
          type: resolve('plugins/http-forwarder'),
          url: hookUrl,
          secret: 'sixteen-characters-at-least',
          timeoutMs: 1500
        }
      },
      log: { level: 'warn' }
    })
  )
  // Started together, as a deploy would: the tables are created under an advisory lock by whichever comes first.
  return Promise.all(Array.from({ length: count }, () => startRelay(test, ['start', '--config', config])))
}

const send = (url: string, body: Record<string, unknown>) =>
  fetch(`${url}/webhook`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10000)
  })

const parsed = (body: string) => JSON.parse(body) as Delivered

// Without a database the file plans no tests (postgresOrSkip says why), so none may be added.
if (db) {
  t.test(
    'three replicas under load, one killed with SIGKILL: every acknowledged message is delivered, in order per conversation',
    async t => {
      const hook = await receiver(t)
      const relays = await replicas(t, 3, hook.url)
      const alive = relays.map(() => true)
      const acked = new Map<string, string[]>()
      const ackedBy = relays.map(() => 0)

      // Each conversation posts its messages one after the other, alternating replicas, and on any failure
      // tries the next replica until one answers 200, as GPTBots behind a load balancer would.
      const post = async (conversation: string, n: number, start: number) => {
        const id = `${conversation}-${String(n).padStart(3, '0')}`
        for (let attempt = 0; ; attempt++) {
          const index = (start + attempt) % relays.length
          try {
            const res = await send(relays[index]!.url, {
              message_id: id,
              message_type: 'ANSWER',
              text: `n=${n}`,
              create_time: Date.now(),
              conversation_id: conversation
            })
            if (res.status === 200) {
              acked.get(conversation)!.push(id)
              ackedBy[index]!++
              return
            }
          } catch {
            /* that replica is gone: the next one */
          }
          await new Promise(r => setTimeout(r, 20))
        }
      }
      const load = Promise.all(
        Array.from({ length: CONVERSATIONS }, async (_, c) => {
          const conversation = `conv-${c}`
          acked.set(conversation, [])
          for (let n = 0; n < PER_CONVERSATION; n++) await post(conversation, n, c + n)
        })
      )

      const expected = CONVERSATIONS * PER_CONVERSATION
      const total = () => [...acked.values()].reduce((sum, ids) => sum + ids.length, 0)
      t.ok(await until(() => total() >= expected / 3 && hook.received.length > 10, 20000), 'load under way')
      relays[1]!.child.kill('SIGKILL')
      await relays[1]!.exited
      alive[1] = false
      const ackedAtKill = total()
      t.ok(ackedAtKill < expected, `killed mid-load (${ackedAtKill} acknowledged, ${hook.received.length} delivered)`)
      await load
      t.equal(total(), expected, 'every message was acknowledged by some replica')
      t.ok(
        ackedBy.every(n => n > 0),
        `load was spread over the replicas (${ackedBy.join(', ')})`
      )

      // Lanes the killed replica held are taken over when their lease runs out (5 s): wait for that, and more.
      const distinct = () => new Set(hook.received.map(r => r.headers['idempotency-key'])).size
      const loadDone = Date.now()
      t.ok(await until(() => distinct() >= expected, 45000), `everything arrived (${distinct()} of ${expected})`)
      // Several seconds here means a lane leased by the killed replica waited for its lease to run out (it held one at the kill).
      t.comment(`the last messages arrived ${Date.now() - loadDone} ms after the load ended`)

      const seen = new Map<string, string[]>()
      for (const request of hook.received) {
        const message = parsed(request.body)
        const ids = seen.get(message.conversationId) ?? []
        if (!ids.includes(message.messageId)) ids.push(message.messageId)
        seen.set(message.conversationId, ids)
      }
      for (const [conversation, ids] of acked)
        t.same(seen.get(conversation), ids, `${conversation}: every acknowledged message, in order of acknowledgement`)
      const duplicates = hook.received.length - distinct()
      t.ok(
        duplicates <= 4,
        `duplicates (${duplicates}) at most one per lane in flight on the killed replica (concurrency 4)`
      )
      t.comment(
        `acknowledged per replica: ${ackedBy.join(', ')}; at the kill: ${ackedAtKill}; duplicates: ${duplicates}`
      )

      for (const [i, relay] of relays.entries()) {
        if (!alive[i]) continue
        relay.child.kill('SIGTERM')
        t.equal(await relay.exited, 0, `replica ${i} stops cleanly`)
      }
    }
  )

  t.test('the same message_id sent to two replicas at once is acknowledged by both and relayed once', async t => {
    const hook = await receiver(t)
    const [a, b] = await replicas(t, 2, hook.url)
    const ROUNDS = 12
    for (let n = 0; n < ROUNDS; n++) {
      const body = {
        message_id: `twice-${n}`,
        message_type: 'ANSWER',
        text: `twice ${n}`,
        create_time: Date.now(),
        conversation_id: `dup-${n % 3}`
      }
      const answers = await Promise.all([send(a!.url, body), send(b!.url, body)])
      t.same(
        answers.map(r => r.status),
        [200, 200],
        `round ${n}: both replicas acknowledge`
      )
    }
    t.ok(await until(() => hook.received.length >= ROUNDS, 20000), 'all delivered')
    // Give a second copy, if there were one, time to go out too.
    await new Promise(r => setTimeout(r, 1000))
    const keys = hook.received.map(r => r.headers['idempotency-key'])
    t.equal(keys.length, ROUNDS, 'each message relayed exactly once')
    t.equal(new Set(keys).size, ROUNDS)
    for (const relay of [a!, b!]) {
      relay.child.kill('SIGTERM')
      t.equal(await relay.exited, 0)
    }
  })
}
