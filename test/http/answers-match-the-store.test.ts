import { connect } from 'node:net'
import t from 'tap'
import { FakeRelay } from '../helpers/fake-relay.js'
import { post, seed, TOKEN } from '../helpers/app.js'
import { listening, parseAnswer, rawRequest, request } from './helpers.js'

// What a client is told and what the relay stored agree: a stored request gets its 200 whatever
// follows it on the connection, and a request refused with an error was not stored.

const webhook = (id: string, body = JSON.stringify(seed({ message_id: id }))) =>
  request(
    'POST',
    '/webhook',
    {
      host: 'relay',
      'content-type': 'application/json',
      authorization: `Bearer ${TOKEN}`,
      'content-length': Buffer.byteLength(body)
    },
    body
  )

/** Every HTTP answer in what came back on one connection, in order. */
function answers(text: string) {
  const found = []
  let rest = text
  while (rest.startsWith('HTTP/1.1') && rest.includes('\r\n\r\n')) {
    const answer = parseAnswer(rest)
    const end = rest.indexOf('\r\n\r\n') + 4 + Number(answer.headers['content-length'] ?? 0)
    if (rest.length < end) break
    found.push(answer)
    rest = rest.slice(end)
  }
  return found
}

/** What comes back on one connection until `count` answers are whole, or the server closes it. */
function untilAnswers(port: number, data: string, count: number) {
  return new Promise<string>(resolve => {
    const socket = connect(port, '127.0.0.1')
    let text = ''
    socket.on('data', chunk => {
      text += chunk.toString('latin1')
      if (answers(text).length >= count) socket.destroy()
    })
    socket.on('error', () => {})
    socket.on('close', () => resolve(text))
    socket.write(data)
  })
}

t.test('a webhook followed on its connection by bytes that are not HTTP gets its 200, then the refusal', async t => {
  const relay = new FakeRelay()
  const { app, port } = await listening(t, { relays: new Map([['fake', relay]]) })
  const raw = await rawRequest(port, `${webhook('before-garbage')}\x01\x02 this is not HTTP\r\n\r\n`)
  const [first, second] = answers(raw.text)
  t.equal(first?.status, 200, 'the stored webhook is acknowledged')
  t.same(first?.body, { code: 200, msg: 'success' })
  t.equal(second?.status, 400, 'the bytes after it are refused')
  t.equal(second?.headers['x-relay-error'], 'REQUEST_MALFORMED')
  t.ok(raw.closedByServer, 'and the connection is closed')
  await app.relay.dispatcher.drain()
  t.same(
    relay.delivered.map(m => m.messageId),
    ['before-garbage']
  )
})

t.test('pipelined, a body that is not JSON then a webhook: each gets its own answer', async t => {
  const relay = new FakeRelay()
  const { app, port } = await listening(t, { relays: new Map([['fake', relay]]) })
  const text = await untilAnswers(port, webhook('unused', '{"message_id": ') + webhook('after-bad-json'), 2)
  const got = answers(text)
  t.equal(got.length, 2, `two answers (got: ${JSON.stringify(text.slice(0, 400))})`)
  t.equal(got[0]?.status, 400)
  t.equal(got[0]?.headers['x-relay-error'], 'BODY_NOT_JSON')
  t.equal(got[1]?.status, 200, 'the webhook after it is acknowledged')
  await app.relay.dispatcher.drain()
  t.same(
    relay.delivered.map(m => m.messageId),
    ['after-bad-json']
  )
})

for (const field of ['content', 'from_component_name']) {
  for (const depth of [3_000, 10_000]) {
    t.test(
      `a flow_output ${field} nested ${depth} deep is a 400 that names the field, and nothing is stored`,
      async t => {
        const relay = new FakeRelay()
        const { app } = await listening(t, { relays: new Map([['fake', relay]]) })
        const deep = `${'['.repeat(depth)}"x"${']'.repeat(depth)}`
        const body = JSON.stringify(
          seed({ message_id: 'deep', flow_output: [{ content: 'ok', from_component_name: 'ok' }] })
        ).replace(`"${field}":"ok"`, `"${field}":${deep}`)
        const reply = await post(app, body)
        t.equal(reply.statusCode, 400)
        t.equal(reply.headers['x-relay-error'], 'BODY_INVALID')
        t.match(reply.json(), { code: 400, msg: new RegExp(`body/flow_output/0/${field} must be a string or null`) })
        await app.relay.dispatcher.drain()
        t.equal(relay.delivered.length, 0)
      }
    )
  }
}
