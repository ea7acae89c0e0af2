import t from 'tap'
import { FakeRelay } from '../helpers/fake-relay.js'
import { post, testApp } from '../helpers/app.js'

/** The V2 example from ../shared/gptbots/README.md. */
const v2 = () => ({
  create_time: 1679587005,
  conversation_id: '657303a8a764d47094874bbe',
  message_id: '65a4ccfC7ce58e728d5897e0',
  output: [
    {
      from_component_branch: '1',
      from_component_name: 'Component Name',
      content: {
        text: 'Hi, is there anything I can help you?',
        audio: [{ audio: 'http://gptbots.ai/example.mp3', transcript: 'The transcribed text of the audio' }]
      }
    }
  ],
  usage: {
    tokens: { total_tokens: 29, prompt_tokens: 19, completion_tokens: 10 },
    credits: { total_credits: 0.0 }
  }
})

t.test('a V2 webhook normalises into the same RelayMessage shape', async t => {
  const relay = new FakeRelay()
  const app = await testApp(t, { relays: new Map([['fake', relay]]) })
  const res = await post(app, v2())
  t.same(res.json(), { code: 200, msg: 'success' })
  await app.relay.dispatcher.drain()
  t.strictSame(
    { ...relay.delivered[0]!, receivedAt: 0 },
    {
      source: 'default',
      messageId: '65a4ccfC7ce58e728d5897e0',
      conversationId: '657303a8a764d47094874bbe',
      type: 'ANSWER',
      flowOutput: [
        {
          content: 'Hi, is there anything I can help you?',
          branch: '1',
          componentName: 'Component Name',
          audio: [{ url: 'http://gptbots.ai/example.mp3', transcript: 'The transcribed text of the audio' }]
        }
      ],
      createdAt: 1679587005000,
      receivedAt: 0,
      format: 'v2',
      usage: { totalTokens: 29, promptTokens: 19, completionTokens: 10, totalCredits: 0 }
    }
  )
})

t.test('V2 without create_time takes the time it was received', async t => {
  const relay = new FakeRelay()
  const app = await testApp(t, { relays: new Map([['fake', relay]]) })
  const body: Record<string, unknown> = v2()
  delete body.create_time
  t.equal((await post(app, body)).statusCode, 200)
  await app.relay.dispatcher.drain()
  t.equal(relay.delivered[0]!.createdAt, relay.delivered[0]!.receivedAt)
})

t.test('V2 near misses name the field', async t => {
  const app = await testApp(t, { relays: new Map([['fake', new FakeRelay()]]) })
  const cases: [unknown, RegExp][] = [
    [{ ...v2(), output: 'text' }, /^body\/output must be an array$/],
    [{ ...v2(), conversation_id: undefined }, /^body\/conversation_id is required$/],
    [
      { ...v2(), output: [{ content: { audio: [{ transcript: 'x' }] } }] },
      /^body\/output\/0\/content\/audio\/0\/audio is required$/
    ],
    [{ ...v2(), output: [{ content: { text: 7 } }] }, /^body\/output\/0\/content\/text must be a string or null$/],
    [{ ...v2(), usage: { tokens: { total_tokens: 'many' } } }, /^body\/usage\/tokens\/total_tokens must be a number$/]
  ]
  for (const [body, msg] of cases) {
    const res = await post(app, body)
    t.equal(res.statusCode, 400)
    t.match(res.json().msg, msg)
  }
})
