import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Test } from 'tap'
import t from 'tap'
import { TOKEN, seed } from '../helpers/app.js'
import { startRelay, until } from '../helpers/process.js'

/*
 * What a user sees in the terminal of `npm start` with the console relay: the messages, not the
 * logging around them. A real process, its log format forced as a terminal would choose it.
 */

const messages = ['a', 'b', 'c', 'd', 'e'].map((id, i) =>
  seed({ message_id: `msg-${id}`, conversation_id: `conv-${i % 2}`, text: `hello ${id}`, flow_output: [] })
)

async function run(t: Test, format: 'pretty' | 'json') {
  const dir = t.testdir({})
  const config = join(dir, 'relay.json')
  writeFileSync(
    config,
    JSON.stringify({
      auth: { tokens: [TOKEN] },
      store: { driver: 'sqlite', path: join(dir, 'relay.db') },
      log: { format },
      relays: { console: { type: 'console', color: false } }
    })
  )
  const relay = await startRelay(t, ['start', '--config', config])
  t.ok(await until(() => /listening on/.test(relay.stderr()), 20_000), 'started')
  const before = relay.stderr().length
  for (const message of messages) {
    const res = await fetch(`${relay.url}/webhook`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify(message)
    })
    t.equal(res.status, 200)
  }
  const delivered = () =>
    relay
      .stderr()
      .slice(before)
      .match(/delivered/g)?.length ?? 0
  t.ok(await until(() => delivered() === messages.length, 20_000), 'all delivered')
  const flowing = relay.stderr().slice(before).trimEnd().split('\n')
  relay.child.kill('SIGTERM')
  await relay.exited
  return { stdout: relay.stdout(), flowing, lines: relay.stderr().slice(before).trimEnd().split('\n') }
}

t.test('pretty: each message is its console lines and at most two short log lines', async t => {
  const { stdout, flowing, lines } = await run(t, 'pretty')
  for (const id of ['a', 'b', 'c', 'd', 'e']) t.match(stdout, `hello ${id}`, `message ${id} is shown`)
  const perMessage = lines.filter(line => /msg-[a-e]/.test(line))
  t.ok(
    perMessage.length <= 2 * messages.length,
    `${perMessage.length} log lines for ${messages.length} messages:\n${perMessage.join('\n')}`
  )
  t.same(
    flowing.filter(line => !/msg-[a-e]/.test(line)),
    [],
    'no other lines while the messages flow'
  )
  for (const line of lines)
    t.match(line, /^\[\d\d:\d\d:\d\d\.\d{3}\] [A-Z]+: \S/, 'every line is one entry, no field blocks')
  t.match(perMessage.join('\n'), /INFO: message accepted · conv-0\/msg-a · ANSWER → console/)
  t.match(perMessage.join('\n'), /INFO: delivered · console · conv-0\/msg-a/)
})

t.test('json: the per-message lines keep every field of the Logs table', async t => {
  const { lines } = await run(t, 'json')
  const entries = lines.map(line => JSON.parse(line) as Record<string, unknown>)
  const accepted = entries.filter(e => e.msg === 'message accepted')
  const delivered = entries.filter(e => e.msg === 'delivered')
  t.equal(accepted.length, messages.length)
  t.equal(delivered.length, messages.length)
  for (const entry of accepted)
    t.match(entry, {
      level: 30,
      time: Number,
      source: 'default',
      conversationId: String,
      messageId: String,
      type: 'ANSWER',
      relays: ['console']
    })
  for (const entry of delivered)
    t.match(entry, { level: 30, time: Number, relay: 'console', conversationId: String, messageId: String, attempt: 1 })
})
