import { writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import t from 'tap'
import { receiver } from '../helpers/receiver.js'
import { freePort, startRelay, until } from '../helpers/process.js'

const CONVERSATIONS = 8
const PER_CONVERSATION = 40
const TOKEN = 'kill-test-token'

t.test(
  'kill -9 under steady load, then restart: every acknowledged message is delivered, in order per conversation',
  async t => {
    const hook = await receiver(t)
    const dir = t.testdir({})
    const config = join(dir, 'relay.json')
    writeFileSync(
      config,
      JSON.stringify({
        auth: { tokens: [TOKEN] },
        store: { driver: 'sqlite', path: join(dir, 'relay.db') },
        dispatch: { concurrency: 4, backoffBaseMs: 20, backoffMaxMs: 200 },
        relays: {
          forward: { type: resolve('plugins/http-forwarder'), url: hook.url, secret: 'sixteen-characters-at-least' }
        },
        log: { level: 'warn' }
      })
    )
    const port = await freePort()
    let relay = await startRelay(t, ['start', '--config', config], { port })
    const acked = new Map<string, string[]>()
    let killed = false

    // Each conversation posts one message after another, retrying until acknowledged, as GPTBots would.
    const post = async (conversation: string, n: number) => {
      const id = `${conversation}-${String(n).padStart(3, '0')}`
      for (;;) {
        try {
          const res = await fetch(`http://127.0.0.1:${port}/webhook`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
            body: JSON.stringify({
              message_id: id,
              message_type: 'ANSWER',
              text: `n=${n}`,
              create_time: Date.now(),
              conversation_id: conversation
            })
          })
          if (res.status === 200) {
            acked.get(conversation)!.push(id)
            return
          }
        } catch {
          /* the relay is down: try again */
        }
        await new Promise(r => setTimeout(r, 20))
      }
    }
    const load = Promise.all(
      Array.from({ length: CONVERSATIONS }, async (_, c) => {
        const conversation = `conv-${c}`
        acked.set(conversation, [])
        for (let n = 0; n < PER_CONVERSATION; n++) await post(conversation, n)
      })
    )

    const total = () => [...acked.values()].reduce((sum, ids) => sum + ids.length, 0)
    await until(() => total() >= (CONVERSATIONS * PER_CONVERSATION) / 3 && hook.received.length > 10, 20000)
    relay.child.kill('SIGKILL')
    await relay.exited
    killed = true
    const ackedAtKill = total()
    t.ok(
      ackedAtKill < CONVERSATIONS * PER_CONVERSATION,
      `killed mid-load (${ackedAtKill} acknowledged, ${hook.received.length} delivered)`
    )
    relay = await startRelay(t, ['start', '--config', config], { port })
    await load
    t.ok(killed)
    const expected = CONVERSATIONS * PER_CONVERSATION
    t.ok(
      await until(() => new Set(hook.received.map(r => r.headers['idempotency-key'])).size >= expected, 30000),
      'everything arrived'
    )

    const seen = new Map<string, string[]>()
    for (const request of hook.received) {
      const message = JSON.parse(request.body) as { conversationId: string; messageId: string }
      const ids = seen.get(message.conversationId) ?? []
      if (!ids.includes(message.messageId)) ids.push(message.messageId)
      seen.set(message.conversationId, ids)
    }
    for (const [conversation, ids] of acked)
      t.same(seen.get(conversation), ids, `${conversation}: every acknowledged message, in order`)
    const duplicates = hook.received.length - expected
    t.ok(duplicates <= 4, `duplicates (${duplicates}) at most one per lane in flight at the kill (concurrency 4)`)
    t.comment(`acknowledged before the kill: ${ackedAtKill}; duplicates after restart: ${duplicates}`)
    relay.child.kill('SIGTERM')
    t.equal(await relay.exited, 0)
  }
)
