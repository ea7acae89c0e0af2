import type { Test } from 'tap'
import t from 'tap'
import { FakeGptbots } from '../fakes/gptbots.js'
import { FakeSlack, fakeChannel } from '../fakes/slack.js'
import { postgresOrSkip } from '../helpers/postgres.js'
import { call, chatBody, establishBody } from './helpers.js'
import { click, eventCallback, fromSlack, shown, slackDesk } from './slack-desk.js'

/**
 * A restart in the middle of a handoff: what was acknowledged before (GPTBots' calls, Slack's
 * events) goes out after, the thread is found again, and the buttons still work.
 */
async function restartMidway(t: Test, store?: Record<string, unknown>) {
  const slack = await FakeSlack.start({ rateLimit: false })
  const gptbots = await FakeGptbots.start()
  t.teardown(() => slack.close())
  t.teardown(() => gptbots.close())
  gptbots.open.add('h-r')

  const before = await slackDesk(t, { slack, gptbots, store })
  await call(before.app, 'conversation/establish', establishBody('h-r'))
  await before.drain()
  const parent = slack.parents(fakeChannel)[0]!
  // Acknowledged, then the relay stops before delivering any of it.
  await call(before.app, 'chat', chatBody('h-r', 'still waiting'))
  const reply = slack.humanReply(fakeChannel, parent.ts, 'U0AGENT1', 'Here now, sorry')
  t.equal((await fromSlack(before.app, 'events', eventCallback(reply))).statusCode, 200)
  await before.app.close()
  t.same(gptbots.replies, [], 'nothing went out before the restart')

  const after = await slackDesk(t, { slack, gptbots, store, dbPath: before.app.dbPath })
  await after.drain()
  await after.drain()
  t.same(
    gptbots.replies.map(r => r.text),
    ['Here now, sorry'],
    'the reply stored before the restart reached GPTBots'
  )
  t.equal(slack.parents(fakeChannel).length, 1, 'no second thread')
  t.ok(
    slack.replies(parent.ts).some(m => !m.user && /still waiting/.test(shown(m))),
    "the user's message went into the same thread"
  )
  const firstReply = () => slack.replies(parent.ts).find(m => m.user)
  await after.until(() => firstReply()?.reactions !== undefined)
  t.same(firstReply()?.reactions, ['white_check_mark'])
  const second = slack.humanReply(fakeChannel, parent.ts, 'U0AGENT1', 'Anything else?')
  await fromSlack(after.app, 'events', eventCallback(second))
  await fromSlack(after.app, 'interactivity', click('close', parent))
  await after.drain()
  t.same(
    gptbots.replies.map(r => r.text),
    ['Here now, sorry', 'Anything else?']
  )
  t.same(gptbots.closed, ['h-r'], 'the close went out after the last reply')
}

t.test('a restart in the middle of a handoff, on SQLite', async t => {
  await restartMidway(t)
})

t.test('a restart in the middle of a handoff, on PostgreSQL', async t => {
  const db = await postgresOrSkip(t)
  if (!db) return
  const schema = await db.schema(t)
  await restartMidway(t, { driver: 'postgres', url: db.url, schema })
})
