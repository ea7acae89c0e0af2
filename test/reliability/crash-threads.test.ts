import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Test } from 'tap'
import t from 'tap'
import { FakeSlack, fakeChannel, fakeToken, type PostedMessage } from '../fakes/slack.js'
import { postgresOrSkip } from '../helpers/postgres.js'
import { freePort, startRelay, until } from '../helpers/process.js'

/*
 * kill -9 in the middle of a Slack delivery run with combined posts, then a restart: each
 * conversation keeps exactly one thread, and at most one post is made twice. The fake Slack lives
 * in this process, so it outlives the relay; the relay is the real command.
 */

const CONVERSATIONS = 8
const PER_CONVERSATION = 9
const TOKEN = 'crash-threads-token'

async function crashMidRun(t: Test, store: Record<string, unknown>) {
  const slack = await FakeSlack.start({ rateLimit: false })
  t.teardown(() => slack.close())
  const dir = t.testdir({})
  const config = join(dir, 'relay.json')
  writeFileSync(
    config,
    JSON.stringify({
      auth: { tokens: [TOKEN] },
      store: store.driver === 'sqlite' ? { driver: 'sqlite', path: join(dir, 'relay.db') } : store,
      dispatch: { backoffBaseMs: 50, backoffMaxMs: 200 },
      relays: {
        // A slow channel pace: backlogs build up, so conversations go out in combined posts.
        'slack.crash': {
          type: 'slack',
          token: fakeToken,
          channel: fakeChannel,
          apiUrl: slack.apiUrl,
          pace: { intervalMs: 60, burst: 1 }
        }
      },
      log: { level: 'warn' }
    })
  )
  const port = await freePort()
  let relay = await startRelay(t, ['start', '--config', config], { port })
  const post = (conversation: string, n: number) =>
    fetch(`http://127.0.0.1:${port}/webhook`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({
        message_id: `${conversation}-${n}`,
        message_type: n % 2 ? 'ANSWER' : 'QUESTION',
        text: `${conversation} turn ${n}`,
        create_time: Date.now(),
        conversation_id: conversation
      })
    }).then(r => r.status)
  const conversations = Array.from({ length: CONVERSATIONS }, (_, c) => `crash-${c}`)
  for (let n = 0; n < PER_CONVERSATION; n++) {
    const answers = await Promise.all(conversations.map(c => post(c, n)))
    t.ok(
      answers.every(s => s === 200),
      `turn ${n} acknowledged`
    )
  }
  // Killed while posts go out: some conversations have their thread, some are starting it. From
  // a moment on, Slack keeps the posts but their answers never come, as with a process killed
  // between the post and its record: the kill lands with posts unrecorded.
  await until(() => slack.messages.length >= CONVERSATIONS, 30_000)
  const unanswered = slack.messages.length + 3
  slack.loseAnswers(1000)
  await until(() => slack.messages.length >= unanswered, 30_000)
  relay.child.kill('SIGKILL')
  slack.loseAnswers(0)
  await relay.exited
  const atKill = slack.messages.length

  relay = await startRelay(t, ['start', '--config', config], { port })
  const expected = conversations.flatMap(c => Array.from({ length: PER_CONVERSATION }, (_, n) => `${c}-${n}`))
  const idsOf = (m: PostedMessage): string[] =>
    JSON.parse(String(m.metadata?.event_payload.message_ids ?? '[]')) as string[]
  const shown = () => new Set(slack.messages.flatMap(idsOf))
  t.ok(await until(() => expected.every(id => shown().has(id)), 40_000), 'every acknowledged message reached Slack')
  relay.child.kill('SIGTERM')
  await relay.exited

  let split = 0
  for (const conversation of conversations) {
    const parents = slack.parents().filter(m => m.metadata?.event_payload.conversation_id === conversation)
    if (parents.length !== 1) split++
    const posts = slack.messages.filter(m => m.metadata?.event_payload.conversation_id === conversation)
    t.ok(
      posts.every(m => !m.thread_ts || m.thread_ts === parents[0]?.ts),
      `${conversation}: every post in its one thread`
    )
    const order = posts.flatMap(idsOf).filter((id, i, all) => all.indexOf(id) === i)
    t.same(
      order,
      expected.filter(id => id.startsWith(`${conversation}-`)),
      `${conversation}: in order`
    )
  }
  // A post made twice: one holding a message an earlier post held already.
  const seen = new Set<string>()
  let repeated = 0
  for (const message of slack.messages) {
    const ids = idsOf(message)
    if (ids.some(id => seen.has(id))) repeated++
    for (const id of ids) seen.add(id)
  }
  t.equal(split, 0, 'no conversation split over two threads')
  t.ok(repeated <= 1, `at most one post made twice (${repeated})`)
  t.comment(
    `posts before the kill: ${atKill}; posts in all: ${slack.messages.length}; split: ${split}; repeated: ${repeated}`
  )
}

t.test('kill -9 during combined Slack posts, on SQLite', async t => {
  await crashMidRun(t, { driver: 'sqlite' })
})

t.test('kill -9 during combined Slack posts, on PostgreSQL', async t => {
  const db = await postgresOrSkip(t)
  if (!db) return
  await crashMidRun(t, { driver: 'postgres', url: db.url, schema: await db.schema(t) })
})
