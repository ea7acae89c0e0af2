import t from 'tap'
import { fakeChannel } from '../fakes/slack.js'
import { call, establishBody } from './helpers.js'
import { eventCallback, fromSlack, shown, slackDesk } from './slack-desk.js'

/** A loaded machine may take longer than the helper's 500 ms per call; a timed-out call would wait for a clock that does not move. */
const roomy = { deliveryTimeoutMs: 10_000 }

t.test('a reply that starts with the note marker stays in the thread, marked, and never reaches the user', async t => {
  const desk = await slackDesk(t, { dispatch: roomy })
  const { app, slack, gptbots, drain } = desk
  gptbots.open.add('h-note')
  await call(app, 'conversation/establish', establishBody('h-note'))
  await drain()
  const parent = slack.parents(fakeChannel)[0]!
  t.match(shown(parent), /Start a reply with `\/\/` to keep it as an internal note/, 'the banner shows the marker')

  const note = slack.humanReply(fakeChannel, parent.ts, 'U0AGENT1', '// she ordered twice, refund one')
  const fileNote = slack.humanReply(fakeChannel, parent.ts, 'U0AGENT1', '  //see the invoice', {
    subtype: 'file_share',
    files: [{ id: 'F1', name: 'invoice.pdf', permalink_public: 'https://slack-files.com/x', public_url_shared: true }]
  })
  const answer = slack.humanReply(fakeChannel, parent.ts, 'U0AGENT2', 'We will refund you today')
  for (const event of [note, fileNote, answer]) await fromSlack(app, 'events', eventCallback(event))
  await desk.until(() => slack.replies(parent.ts).filter(m => m.user && m.reactions).length === 3)
  t.same(
    gptbots.replies.map(r => r.text),
    ['We will refund you today'],
    'only the answer went out'
  )
  t.same(
    slack
      .replies(parent.ts)
      .filter(m => m.user)
      .map(m => m.reactions),
    [['memo'], ['memo'], ['white_check_mark']],
    'the notes are marked 📝, the answer ✅'
  )
  t.equal(
    gptbots.requests.filter(r => r.path === '/v1/human/message/receive').length,
    1,
    'GPTBots was asked once: no note was tried'
  )
})

t.test('the marker is configurable, and an empty one turns notes off', async t => {
  for (const [marker, sent] of [
    ['!note', ['// not a note here']],
    ['', ['// not a note here', '!note nor this']]
  ] as const) {
    const desk = await slackDesk(t, { dispatch: roomy, handoff: { noteMarker: marker } })
    const { app, slack, gptbots, drain } = desk
    gptbots.open.add('h-mark')
    await call(app, 'conversation/establish', establishBody('h-mark'))
    await drain()
    const parent = slack.parents(fakeChannel)[0]!
    if (marker) t.match(shown(parent), /Start a reply with `!note`/)
    else t.notMatch(shown(parent), /internal note/, 'no marker in the banner when notes are off')
    for (const text of ['// not a note here', '!note nor this'])
      await fromSlack(app, 'events', eventCallback(slack.humanReply(fakeChannel, parent.ts, 'U0AGENT1', text)))
    await drain()
    t.same(
      gptbots.replies.map(r => r.text),
      sent,
      `marker ${JSON.stringify(marker)}`
    )
  }
})
