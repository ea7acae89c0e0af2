import t from 'tap'
import { FakeSlack, fakeChannel, fakeToken } from '../fakes/slack.js'
import { post, seed, testApp } from '../helpers/app.js'

// Text with lone UTF-16 surrogates reaches Slack through the real relay with U+FFFD in their place,
// instead of being dead-lettered ("URI malformed"); ids that hold them are refused at intake.

const slack = await FakeSlack.start({ rateLimit: false })
t.teardown(() => slack.close())
const ADMIN = 'admin-token-0123456789'

t.test('lone surrogates in the text: delivered to Slack, never dead-lettered', async t => {
  const app = await testApp(t, {
    config: {
      admin: { token: ADMIN },
      relays: {
        slack: {
          type: 'slack',
          token: fakeToken,
          channel: fakeChannel,
          apiUrl: slack.apiUrl,
          pace: { intervalMs: 1, burst: 50 }
        }
      }
    }
  })
  const res = await post(
    app,
    seed({
      message_id: 'lone-1',
      conversation_id: 'lone-conv',
      text: 'before\ud800after \udc00 end',
      flow_output: [{ content: 'flow\udbff', branch: '1', from_component_name: 'x' }]
    })
  )
  t.equal(res.statusCode, 200, res.body)
  await app.relay.dispatcher.drain()
  const dead = await app.relay.store.listDeliveries({ status: 'dead', limit: 10 })
  t.same(dead, [], 'nothing was dead-lettered')
  const posted = slack.messages.filter(m => m.thread_ts && (m.text ?? '').includes('after'))
  t.equal(posted.length, 1, JSON.stringify(slack.messages.map(m => m.text)))
  t.match(posted[0]!.text, /before\ufffdafter \ufffd end/)
  const listed = await app.inject({
    method: 'GET',
    url: '/admin/conversations/default/lone-conv/messages',
    headers: { authorization: `Bearer ${ADMIN}` }
  })
  t.equal(listed.statusCode, 200)
  t.equal(listed.json().messages[0].deliveries[0].status, 'delivered')
})

t.test('a conversation_id with a lone surrogate is refused, so Slack and the admin API never meet one', async t => {
  const app = await testApp(t, {
    config: {
      relays: { slack: { type: 'slack', token: fakeToken, channel: fakeChannel, apiUrl: slack.apiUrl } }
    }
  })
  const res = await post(app, seed({ message_id: 'lone-2', conversation_id: 'conv\ud800' }))
  t.equal(res.statusCode, 400)
  t.match(res.json().msg, /^body\/conversation_id must not contain lone UTF-16 surrogates/)
})
