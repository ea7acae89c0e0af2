import t from 'tap'
import { FakeRelay } from '../helpers/fake-relay.js'
import { post, seed, testApp } from '../helpers/app.js'

t.test("the seed example from GPTBots' V1 page is accepted, stored and relayed as one RelayMessage", async t => {
  const relay = new FakeRelay()
  const app = await testApp(t, { relays: new Map([['fake', relay]]) })
  const res = await post(app, seed())
  t.equal(res.statusCode, 200)
  t.same(res.json(), { code: 200, msg: 'success' })
  t.match(res.headers['content-type'], /application\/json/)
  t.equal(relay.delivered.length, 0, 'nothing is delivered before the dispatcher runs: the 200 only means stored')

  await app.relay.dispatcher.drain()
  t.equal(relay.delivered.length, 1)
  const message = relay.delivered[0]!
  t.strictSame(
    { ...message, receivedAt: 0 },
    {
      source: 'default',
      messageId: '65a4ccfC7ce58e728d5897e0',
      conversationId: '657303a8a764d47094874bbe',
      type: 'ANSWER',
      text: 'Hi, is there anything I can help you?',
      flowOutput: [{ content: '你好', branch: '1', componentName: 'User Input', audio: [] }],
      createdAt: 1679587005000,
      receivedAt: 0,
      format: 'v1'
    }
  )
  t.ok(message.receivedAt > 1679587005000)
})

t.test('create_time above 1e12 is taken as milliseconds', async t => {
  const relay = new FakeRelay()
  const app = await testApp(t, { relays: new Map([['fake', relay]]) })
  t.equal((await post(app, seed({ create_time: 1679587005123 }))).statusCode, 200)
  await app.relay.dispatcher.drain()
  t.equal(relay.delivered[0]!.createdAt, 1679587005123)
})

t.test('a QUESTION with neither text nor flow output is still relayed', async t => {
  const relay = new FakeRelay()
  const app = await testApp(t, { relays: new Map([['fake', relay]]) })
  const body = seed({ message_type: 'QUESTION' })
  delete body.text
  delete body.flow_output
  t.equal((await post(app, body)).statusCode, 200)
  await app.relay.dispatcher.drain()
  t.equal(relay.delivered[0]!.type, 'QUESTION')
  t.equal(relay.delivered[0]!.text, undefined)
  t.same(relay.delivered[0]!.flowOutput, [])
})

t.test('null optional fields are accepted as absent', async t => {
  const relay = new FakeRelay()
  const app = await testApp(t, { relays: new Map([['fake', relay]]) })
  t.equal(
    (await post(app, seed({ text: null, flow_output: [{ content: null, branch: null, from_component_name: 'X' }] })))
      .statusCode,
    200
  )
  await app.relay.dispatcher.drain()
  t.same(relay.delivered[0]!.flowOutput, [{ componentName: 'X', audio: [] }])
})
