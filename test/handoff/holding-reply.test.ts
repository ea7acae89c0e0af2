import t from 'tap'
import { fakeChannel } from '../fakes/slack.js'
import { call, establishBody } from './helpers.js'
import { eventCallback, fromSlack, shown, slackDesk } from './slack-desk.js'

const holdingReply = { text: 'Thanks for waiting: a person will answer shortly.', afterSeconds: 30 }
/** A loaded machine may take longer than the helper's 500 ms per call. */
const dispatch = { deliveryTimeoutMs: 10_000 }

t.test('no one answers in time: the holding reply goes to the user once, and shows in the thread', async t => {
  const desk = await slackDesk(t, { dispatch, handoff: { holdingReply } })
  const { app, slack, gptbots, clock, drain } = desk
  const tick = () => app.relay.desk!.tick()
  gptbots.open.add('h-wait')
  await call(app, 'conversation/establish', establishBody('h-wait'))
  await drain()
  const parent = slack.parents(fakeChannel)[0]!
  clock.advance(29_000)
  await tick()
  await drain()
  t.same(gptbots.replies, [], 'not before the delay')
  clock.advance(1_000)
  await tick()
  await drain()
  t.same(
    gptbots.replies.map(r => [r.conversationId, r.text]),
    [['h-wait', holdingReply.text]],
    'sent at the delay'
  )
  t.match(shown(slack.replies(parent.ts).at(-1)!), /No one had answered 30 s after .*Thanks for waiting/)
  clock.advance(60_000)
  await tick()
  await drain()
  t.equal(gptbots.replies.length, 1, 'once')
  // A person answers afterwards: it goes out behind the holding reply, as usual.
  await fromSlack(app, 'events', eventCallback(slack.humanReply(fakeChannel, parent.ts, 'U0AGENT1', 'Hi, I am here')))
  await drain()
  t.same(
    gptbots.replies.map(r => r.text),
    [holdingReply.text, 'Hi, I am here']
  )
})

t.test('a person who answers in time, or a handoff closed, gets no holding reply', async t => {
  const desk = await slackDesk(t, { dispatch, handoff: { holdingReply } })
  const { app, slack, gptbots, clock, drain } = desk
  gptbots.open.add('h-quick')
  gptbots.open.add('h-gone')
  await call(app, 'conversation/establish', establishBody('h-quick'))
  await call(app, 'conversation/establish', establishBody('h-gone'))
  await drain()
  const quick = slack.parents(fakeChannel).find(p => shown(p).includes('h-quick'))!
  clock.advance(10_000)
  await fromSlack(app, 'events', eventCallback(slack.humanReply(fakeChannel, quick.ts, 'U0AGENT1', 'On it')))
  await call(app, 'conversation/close', { conversation_id: 'h-gone', timestamp: Date.now(), type: 'USER_CLOSED' })
  clock.advance(30_000)
  await app.relay.desk!.tick()
  await drain()
  t.same(
    gptbots.replies.map(r => r.text),
    ['On it']
  )
})

t.test('off by default', async t => {
  const desk = await slackDesk(t, { dispatch })
  const { app, gptbots, clock, drain } = desk
  gptbots.open.add('h-off')
  await call(app, 'conversation/establish', establishBody('h-off'))
  await drain()
  clock.advance(3_600_000)
  await app.relay.desk!.tick()
  await drain()
  t.same(gptbots.replies, [])
})
