import t from 'tap'
import { fakeChannel } from '../fakes/slack.js'
import { call, establishBody } from './helpers.js'
import { eventCallback, fromSlack, slackDesk } from './slack-desk.js'

/** A loaded machine may take longer than the helper's 500 ms per call; a timed-out call would wait for a clock that does not move. */
const roomy = { deliveryTimeoutMs: 10_000 }

/** Waits for the best-effort ephemeral notices (sent after Slack's 200) to reach the fake, then a little more for any extra. */
async function settle(slack: { ephemerals: unknown[] }, count: number) {
  for (let round = 0; round < 300 && slack.ephemerals.length < count; round++)
    await new Promise(resolve => setTimeout(resolve, 10))
  await new Promise(resolve => setTimeout(resolve, 50))
}

t.test('every kind of post a person types in the thread reaches the user, once and in order', async t => {
  const desk = await slackDesk(t, { dispatch: roomy })
  const { app, slack, gptbots, drain } = desk
  gptbots.open.add('h-sub')
  await call(app, 'conversation/establish', establishBody('h-sub'))
  await drain()
  const parent = slack.parents(fakeChannel)[0]!

  const broadcast = slack.humanReply(fakeChannel, parent.ts, 'U0AGENT1', 'Sent to the channel too', {
    subtype: 'thread_broadcast',
    root: { ts: parent.ts }
  })
  const withFiles = slack.humanReply(fakeChannel, parent.ts, 'U0AGENT1', 'Here is the label', {
    subtype: 'file_share',
    files: [
      {
        id: 'F01',
        name: 'label.pdf',
        mimetype: 'application/pdf',
        permalink: 'https://fake.slack.com/files/U0AGENT1/F01/label.pdf',
        permalink_public: 'https://slack-files.com/T0FAKE-F01-abc',
        public_url_shared: true
      },
      {
        id: 'F02',
        name: 'photo.png',
        mimetype: 'image/png',
        permalink: 'https://fake.slack.com/files/U0AGENT1/F02/photo.png',
        permalink_public: 'https://slack-files.com/T0FAKE-F02-def',
        public_url_shared: false
      }
    ]
  })
  const onlyFile = slack.humanReply(fakeChannel, parent.ts, 'U0AGENT2', '', {
    subtype: 'file_share',
    files: [
      {
        id: 'F03',
        name: 'scan.jpg',
        permalink_public: 'https://slack-files.com/T0FAKE-F03-ghi',
        public_url_shared: true
      }
    ]
  })
  const me = slack.humanReply(fakeChannel, parent.ts, 'U0AGENT2', 'is checking the warehouse', {
    subtype: 'me_message'
  })
  for (const event of [broadcast, withFiles, onlyFile, me])
    t.equal((await fromSlack(app, 'events', eventCallback(event))).statusCode, 200)
  // Slack retries the broadcast: it still goes once.
  await fromSlack(app, 'events', eventCallback(broadcast), { headers: { 'x-slack-retry-num': '1' } })
  await drain()
  t.same(
    gptbots.replies.map(r => r.text),
    [
      'Sent to the channel too',
      'Here is the label\nlabel.pdf: https://slack-files.com/T0FAKE-F01-abc\nphoto.png: https://fake.slack.com/files/U0AGENT1/F02/photo.png',
      'scan.jpg: https://slack-files.com/T0FAKE-F03-ghi',
      'is checking the warehouse'
    ],
    'the broadcast, the text and each file as a link (public when shared publicly), a file alone, a /me line'
  )
  await desk.until(() => slack.replies(parent.ts).filter(m => m.user && m.reactions).length === 4)
  t.equal(slack.replies(parent.ts).filter(m => m.reactions?.includes('white_check_mark')).length, 4, 'each gets its ✅')
  await settle(slack, 1)
  t.match(
    slack.ephemerals,
    [{ user: 'U0AGENT1', thread_ts: parent.ts, text: /"photo\.png".*only members of this workspace can open/ }],
    'the person is told which link the user cannot open'
  )
  t.equal(slack.ephemerals.length, 1)
})

t.test('what is not a new post is not sent, and what cannot be sent is said', async t => {
  const desk = await slackDesk(t, { dispatch: roomy })
  const { app, slack, gptbots, drain } = desk
  gptbots.open.add('h-not')
  await call(app, 'conversation/establish', establishBody('h-not'))
  await drain()
  const parent = slack.parents(fakeChannel)[0]!
  const reply = slack.humanReply(fakeChannel, parent.ts, 'U0AGENT1', 'First words')
  await fromSlack(app, 'events', eventCallback(reply))

  const wrapped = (subtype: string, fields: Record<string, unknown>) =>
    eventCallback({ type: 'message', subtype, channel: fakeChannel, ts: `${Date.now() / 1000}`, ...fields })
  const ignored = [
    wrapped('bot_message', { bot_id: 'B0OTHER', text: 'An app speaks', thread_ts: parent.ts }),
    wrapped('channel_join', { user: 'U0NEW', text: '<@U0NEW> has joined the channel' }),
    // A link preview added to the reply: no new words.
    wrapped('message_changed', {
      message: { ...reply, attachments: [{ title: 'preview' }] },
      previous_message: reply
    })
  ]
  for (const body of ignored) t.equal((await fromSlack(app, 'events', body)).statusCode, 200)
  const edit = wrapped('message_changed', {
    message: { ...reply, text: 'First words, corrected', edited: { user: 'U0AGENT1', ts: '1' } },
    previous_message: reply
  })
  const deletion = wrapped('message_deleted', { deleted_ts: reply.ts, previous_message: reply })
  const emptyFile = slack.humanReply(fakeChannel, parent.ts, 'U0AGENT2', '', {
    subtype: 'file_share',
    files: [{ id: 'F09', mode: 'hidden_by_limit' }]
  })
  for (const body of [edit, deletion, eventCallback(emptyFile)])
    t.equal((await fromSlack(app, 'events', body)).statusCode, 200)
  await drain()
  t.same(
    gptbots.replies.map(r => r.text),
    ['First words'],
    'an app, a join, an edit, a deletion and a file without a link send nothing'
  )
  await settle(slack, 3)
  t.match(slack.ephemerals, [
    { user: 'U0AGENT1', thread_ts: parent.ts, text: /Edits are not sent/ },
    { user: 'U0AGENT1', thread_ts: parent.ts, text: /does not take it back/ },
    { user: 'U0AGENT2', thread_ts: parent.ts, text: /Not sent: Slack gives no link to "file"/ }
  ])
  t.equal(slack.ephemerals.length, 3, 'a link preview tells no one')
})
