import t from 'tap'
import { FakeRelay } from '../helpers/fake-relay.js'
import { post, seed, testApp } from '../helpers/app.js'

const without = (field: string) => {
  const body = seed()
  delete body[field]
  return body
}

/** Each case: what is sent, the status, the stable error code, and what the message must say. */
const cases: {
  name: string
  body: unknown
  headers?: Record<string, string>
  status: number
  code: string
  msg: RegExp
}[] = [
  ...['message_id', 'message_type', 'create_time', 'conversation_id'].map(field => ({
    name: `missing ${field}`,
    body: without(field),
    status: 400,
    code: 'BODY_INVALID',
    msg: new RegExp(`^body/${field} is required$`)
  })),
  {
    name: 'every required field missing',
    body: {},
    status: 400,
    code: 'BODY_INVALID',
    msg: /body\/message_id is required; body\/message_type is required; body\/create_time is required; body\/conversation_id is required/
  },
  {
    name: 'every field wrong',
    body: { message_id: 1, message_type: 2, text: 3, flow_output: 4, create_time: 'x', conversation_id: 5 },
    status: 400,
    code: 'BODY_INVALID',
    msg: /^(?=.*message_id)(?=.*message_type)(?=.*text)(?=.*flow_output)(?=.*create_time)(?=.*conversation_id)/
  },
  {
    name: 'message_id a number',
    body: seed({ message_id: 42 }),
    status: 400,
    code: 'BODY_INVALID',
    msg: /^body\/message_id must be a string$/
  },
  {
    name: 'message_id empty',
    body: seed({ message_id: '' }),
    status: 400,
    code: 'BODY_INVALID',
    msg: /^body\/message_id must not be empty$/
  },
  {
    name: 'conversation_id an object',
    body: seed({ conversation_id: { id: 1 } }),
    status: 400,
    code: 'BODY_INVALID',
    msg: /^body\/conversation_id must be a string$/
  },
  {
    name: 'create_time a string',
    body: seed({ create_time: '1679587005' }),
    status: 400,
    code: 'BODY_INVALID',
    msg: /^body\/create_time must be a number$/
  },
  {
    name: 'create_time negative',
    body: seed({ create_time: -1 }),
    status: 400,
    code: 'BODY_INVALID',
    msg: /^body\/create_time must be at least 0$/
  },
  {
    name: 'NUL in conversation_id',
    body: seed({ conversation_id: 'a\u0000b' }),
    status: 400,
    code: 'BODY_INVALID',
    msg: /^body\/conversation_id must not contain NUL \(\\u0000\) characters$/
  },
  {
    name: 'message_id over 256 characters',
    body: seed({ message_id: 'x'.repeat(257) }),
    status: 400,
    code: 'BODY_INVALID',
    msg: /^body\/message_id must be at most 256 characters$/
  },
  {
    name: 'message_type not in the enum',
    body: seed({ message_type: 'REPLY' }),
    status: 400,
    code: 'BODY_INVALID',
    msg: /^body\/message_type must be one of "ANSWER", "QUESTION"$/
  },
  {
    name: 'message_type lower case',
    body: seed({ message_type: 'answer' }),
    status: 400,
    code: 'BODY_INVALID',
    msg: /message_type must be one of/
  },
  {
    name: 'text a number',
    body: seed({ text: 5 }),
    status: 400,
    code: 'BODY_INVALID',
    msg: /^body\/text must be a string or null$/
  },
  {
    name: 'flow_output an object',
    body: seed({ flow_output: { content: 'x' } }),
    status: 400,
    code: 'BODY_INVALID',
    msg: /^body\/flow_output must be an array or null$/
  },
  {
    name: 'flow_output entry content a number',
    body: seed({ flow_output: [{ content: 1 }] }),
    status: 400,
    code: 'BODY_INVALID',
    msg: /^body\/flow_output\/0\/content must be a string or null$/
  },
  {
    name: 'flow_output entry not an object',
    body: seed({ flow_output: ['x'] }),
    status: 400,
    code: 'BODY_INVALID',
    msg: /^body\/flow_output\/0 must be an object$/
  },
  {
    name: 'malformed JSON',
    body: '{"message_id": "x",',
    status: 400,
    code: 'BODY_NOT_JSON',
    msg: /^the body is not valid JSON: /
  },
  {
    name: 'truncated seed',
    body: JSON.stringify(seed()).slice(0, 60),
    status: 400,
    code: 'BODY_NOT_JSON',
    msg: /not valid JSON/
  },
  { name: 'a JSON array', body: '[1,2]', status: 400, code: 'BODY_NOT_OBJECT', msg: /must be a JSON object/ },
  { name: 'a JSON string', body: '"hello"', status: 400, code: 'BODY_NOT_OBJECT', msg: /must be a JSON object/ },
  { name: 'JSON null', body: 'null', status: 400, code: 'BODY_NOT_OBJECT', msg: /must be a JSON object/ },
  { name: 'an empty body', body: '', status: 400, code: 'BODY_EMPTY', msg: /body is empty/ },
  {
    name: '__proto__ key',
    body: '{"__proto__": {"polluted": true}, "message_id": "x"}',
    status: 400,
    code: 'BODY_NOT_JSON',
    msg: /forbidden key/
  },
  {
    name: 'constructor.prototype key',
    body: '{"constructor": {"prototype": {"polluted": true}}}',
    status: 400,
    code: 'BODY_NOT_JSON',
    msg: /forbidden key/
  },
  {
    name: 'invalid UTF-8',
    body: Buffer.concat([Buffer.from('{"message_id": "'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]),
    status: 400,
    code: 'BODY_BAD_ENCODING',
    msg: /not valid UTF-8/
  },
  {
    name: 'text/plain',
    body: JSON.stringify(seed()),
    headers: { 'content-type': 'text/plain' },
    status: 415,
    code: 'MEDIA_TYPE',
    msg: /Content-Type: application\/json/
  },
  {
    name: 'form-encoded',
    body: 'a=b',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    status: 415,
    code: 'MEDIA_TYPE',
    msg: /application\/json/
  },
  {
    name: 'over the 1 MiB limit',
    body: JSON.stringify(seed({ text: 'x'.repeat(1024 * 1024) })),
    status: 413,
    code: 'BODY_TOO_LARGE',
    msg: /larger than the limit of 1048576 bytes \(server\.bodyLimit\)/
  }
]

t.test('near misses of the seed example are refused with an envelope that says why', async t => {
  const relay = new FakeRelay()
  const app = await testApp(t, { relays: new Map([['fake', relay]]) })
  for (const c of cases) {
    const res = await post(app, c.body, c.headers)
    t.equal(res.statusCode, c.status, `${c.name}: status`)
    t.equal(res.headers['x-relay-error'], c.code, `${c.name}: code`)
    const body = res.json()
    t.same(Object.keys(body).sort(), ['code', 'msg'], `${c.name}: envelope only`)
    t.equal(body.code, c.status, `${c.name}: envelope code`)
    t.match(body.msg, c.msg, `${c.name}: message`)
    t.notMatch(res.body, /at .*\.(ts|js):\d+/, `${c.name}: no stack trace`)
  }
  await app.relay.dispatcher.drain()
  t.equal(relay.attempts.length, 0, 'nothing refused was stored or relayed')
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype was polluted')
})

t.test('the body limit is configurable', async t => {
  const app = await testApp(t, {
    relays: new Map([['fake', new FakeRelay()]]),
    config: { server: { bodyLimit: 2048 } }
  })
  const res = await post(app, seed({ text: 'x'.repeat(3000) }))
  t.equal(res.statusCode, 413)
  t.match(res.json().msg, /limit of 2048 bytes/)
  t.equal((await post(app, seed({ text: 'x'.repeat(1000) }))).statusCode, 200)
})

t.test('unknown routes and methods answer with the envelope, not an HTML page', async t => {
  const app = await testApp(t)
  for (const [method, url] of [
    ['GET', '/webhook'],
    ['GET', '/'],
    ['PUT', '/webhook'],
    ['POST', '/hook']
  ] as const) {
    const res = await app.inject({ method, url })
    t.equal(res.statusCode, 404, `${method} ${url}`)
    t.same(res.json(), {
      code: 404,
      msg: `no such route: GPTBots posts to POST /webhook or POST /webhook/<source> (got ${method} ${url})`
    })
  }
})

t.test('application/json with a charset parameter is JSON', async t => {
  const app = await testApp(t, { relays: new Map([['fake', new FakeRelay()]]) })
  const res = await post(app, seed(), { 'content-type': 'application/json; charset=utf-8' })
  t.equal(res.statusCode, 200)
})
