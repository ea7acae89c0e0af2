import t from 'tap'
import { fakeChannel } from '../fakes/slack.js'
import { call, chatBody, closeBody, establishBody } from './helpers.js'
import { click, eventCallback, fromSlack, shown, slackDesk } from './slack-desk.js'

t.test(
  'a handoff end to end: thread with history, the user in order, replies to GPTBots in order, closed from Slack',
  async t => {
    const desk = await slackDesk(t, { oncall: 'S0ONCALL' })
    const { app, slack, gptbots, drain } = desk
    gptbots.open.add('h-1')
    t.same((await call(app, 'conversation/establish', establishBody('h-1'))).json(), { code: 200, message: 'success' })
    await call(app, 'chat', chatBody('h-1', 'Are you there?'))
    await call(app, 'chat', chatBody('h-1', 'Hello??'))
    await drain()

    const [parent, ...more] = slack.parents(fakeChannel)
    t.equal(more.length, 0, 'one thread per handoff')
    t.ok(parent, 'the handoff opened a thread')
    if (!parent) return
    t.match(shown(parent), /A human is needed/)
    t.match(shown(parent), /<!subteam\^S0ONCALL>/, 'the configured on-call group is mentioned')
    t.match(shown(parent), /ann@example\.com/, 'who the user is')
    t.same(
      parent.blocks?.find(b => b.type === 'actions')?.elements?.map(e => (e as { action_id: string }).action_id),
      ['gptbots_handoff_claim', 'gptbots_handoff_close']
    )
    const thread = slack.replies(parent.ts)
    const texts = thread.map(shown)
    const history = texts[0] ?? ''
    t.ok(
      history.indexOf('My order #42') < history.indexOf('I am sorry') &&
        history.indexOf('I am sorry') < history.indexOf('Please hurry'),
      'the conversation so far, speaker by speaker, in order'
    )
    t.notMatch(history, /<!channel>/, "the user's own mentions are neutralised")
    t.notMatch(history, /(?<!\u2060)@here/, '@here too')
    t.match(texts[1], /Are you there\?/)
    t.match(texts[2], /Hello\?\?/)

    // Two people answer in the thread; Slack posts the events, signed.
    const first = slack.humanReply(
      fakeChannel,
      parent.ts,
      'U0AGENT1',
      'Hi Ann, <@U0AGENT2> and I are on it &amp; checking'
    )
    const second = slack.humanReply(fakeChannel, parent.ts, 'U0AGENT2', 'Your parcel left today')
    t.equal((await fromSlack(app, 'events', eventCallback(first))).statusCode, 200)
    t.equal((await fromSlack(app, 'events', eventCallback(second))).statusCode, 200)
    // Slack retries the first (it did not see our 200 in time): it acts once.
    const retried = await fromSlack(app, 'events', eventCallback(first), {
      headers: { 'x-slack-retry-num': '1', 'x-slack-retry-reason': 'http_timeout' }
    })
    t.equal(retried.statusCode, 200)
    await drain()
    t.same(
      gptbots.replies.map(r => [r.conversationId, r.text]),
      [
        ['h-1', 'Hi Ann, @someone and I are on it & checking'],
        ['h-1', 'Your parcel left today']
      ],
      'the replies reached GPTBots once each, in order, as plain text'
    )
    const reactions = () =>
      slack
        .replies(parent.ts)
        .filter(m => m.user)
        .map(m => m.reactions)
    await desk.until(() => reactions().every(r => r !== undefined))
    t.same(reactions(), [['white_check_mark'], ['white_check_mark']], 'the thread shows which replies reached the user')

    // Claim, then Close, from the buttons.
    t.equal((await fromSlack(app, 'interactivity', click('claim', parent))).statusCode, 200)
    await drain()
    t.match(shown(parent), /Claimed by \*u0agent2\*/, 'who claimed it, by name')
    t.notMatch(
      JSON.stringify(slack.messages.filter(m => !m.user)),
      /<@U0AGENT/,
      'no one is mentioned: Claim and Close name people without notifying them'
    )
    t.notMatch(shown(parent), /gptbots_handoff_claim/, 'the Claim button is gone')
    t.equal((await fromSlack(app, 'interactivity', click('close', parent, 'U0AGENT1'))).statusCode, 200)
    await drain()
    t.same(gptbots.closed, ['h-1'], 'GPTBots was told the human closed it')
    t.notMatch(shown(parent), /"actions"/, 'no buttons are left')
    t.match(shown(slack.replies(parent.ts).at(-1)!), /Closed by \*u0agent1\*/)
    t.notMatch(JSON.stringify(slack.messages.filter(m => !m.user)), /<@U0AGENT/, 'the relay mentions no one')
    t.notMatch(shown(parent), /subteam/, 'an edit does not ping the on-call group again')

    // A reply after close is not sent, and its author is told why.
    const late = slack.humanReply(fakeChannel, parent.ts, 'U0AGENT1', 'One more thing')
    t.equal((await fromSlack(app, 'events', eventCallback(late))).statusCode, 200)
    await drain()
    t.equal(gptbots.replies.length, 2, 'nothing more reached GPTBots')
    await new Promise(resolve => setImmediate(resolve))
    t.match(slack.ephemerals, [{ user: 'U0AGENT1', text: /closed/, thread_ts: parent.ts }])
  }
)

t.test("GPTBots' own close is shown in the thread, and later replies are refused", async t => {
  const { app, slack, gptbots, drain } = await slackDesk(t)
  gptbots.open.add('h-2')
  await call(app, 'conversation/establish', establishBody('h-2'))
  await drain()
  const parent = slack.parents(fakeChannel)[0]!
  await call(app, 'conversation/close', closeBody('h-2', 'TIMEOUT'))
  await drain()
  t.match(shown(slack.replies(parent.ts).at(-1)!), /timed out/)
  t.notMatch(shown(parent), /gptbots_handoff_close/, 'the buttons are gone')
  const late = slack.humanReply(fakeChannel, parent.ts, 'U0AGENT1', 'Sorry for the wait')
  await fromSlack(app, 'events', eventCallback(late))
  await drain()
  t.same(gptbots.replies, [])
  await new Promise(resolve => setImmediate(resolve))
  t.equal(slack.ephemerals.length, 1)
})
