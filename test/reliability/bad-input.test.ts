import { connect } from 'node:net'
import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import { TOKEN, seed, testApp } from '../helpers/app.js'

// Hostile requests against the real app: each gets the right 4xx in GPTBots' envelope with a stable
// x-relay-error code, the process stays healthy, and nothing is stored.

const LIMIT = 1024 * 1024
const json = 'application/json'
const bearer = `Bearer ${TOKEN}`

interface Case {
  name: string
  body?: string | Buffer
  headers?: Record<string, string | undefined>
  url?: string
  method?: 'POST' | 'GET' | 'PUT'
  status: number
  code: string | string[]
  /** A fragment the msg must name (a field, say). */
  names?: RegExp
}

const raw = (value: unknown) => JSON.stringify(value)
const v1 = (overrides: Record<string, unknown>) => raw(seed(overrides))
const withoutField = (field: string, base = seed()) =>
  raw(Object.fromEntries(Object.entries(base).filter(([k]) => k !== field)))
const v2Base = {
  message_id: 'v2-id',
  conversation_id: 'v2-conv',
  create_time: 1679587005,
  output: [{ from_component_name: 'LLM', content: { text: 'hi' } }]
}
const v2 = (overrides: Record<string, unknown>) => raw({ ...v2Base, ...overrides })
const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth)
const seedText = v1({})

const invalid = (name: string, body: string, names: RegExp): Case => ({
  name,
  body,
  status: 400,
  code: 'BODY_INVALID',
  names
})

const cases: Case[] = [
  // Not JSON at all, or not all of it.
  { name: 'malformed JSON', body: '{"message_id": "x",', status: 400, code: 'BODY_NOT_JSON' },
  {
    name: 'truncated seed',
    body: seedText.slice(0, Math.floor(seedText.length / 2)),
    status: 400,
    code: 'BODY_NOT_JSON'
  },
  { name: 'trailing garbage', body: seedText + 'garbage', status: 400, code: 'BODY_NOT_JSON' },
  { name: 'single quotes', body: "{'message_id': 'x'}", status: 400, code: 'BODY_NOT_JSON' },
  { name: 'NaN literal', body: seedText.replace('1679587005', 'NaN'), status: 400, code: 'BODY_NOT_JSON' },
  // Deep nesting at the top: refused (README says BODY_NOT_JSON "nested too deeply"; the relay answers
  // BODY_NOT_OBJECT for arrays, see the report). Either is a 400 that stores nothing.
  { name: '100k nested arrays', body: nested(100_000), status: 400, code: ['BODY_NOT_JSON', 'BODY_NOT_OBJECT'] },
  {
    name: '100k nested objects',
    body: '{"a":'.repeat(100_000) + '1' + '}'.repeat(100_000),
    status: 400,
    code: ['BODY_NOT_JSON', 'BODY_INVALID']
  },
  // Empty, or not an object.
  { name: 'empty body', body: '', status: 400, code: 'BODY_EMPTY' },
  { name: 'null', body: 'null', status: 400, code: 'BODY_NOT_OBJECT' },
  { name: 'an array', body: `[${seedText}]`, status: 400, code: 'BODY_NOT_OBJECT' },
  { name: 'a string', body: '"hello"', status: 400, code: 'BODY_NOT_OBJECT' },
  { name: 'a number', body: '42', status: 400, code: 'BODY_NOT_OBJECT' },
  { name: 'true', body: 'true', status: 400, code: 'BODY_NOT_OBJECT' },
  // Prototype pollution.
  {
    name: '__proto__ at the top',
    body: seedText.replace(/^{/, '{"__proto__":{"polluted":true},'),
    status: 400,
    code: 'BODY_NOT_JSON'
  },
  {
    name: 'constructor.prototype at the top',
    body: seedText.replace(/^{/, '{"constructor":{"prototype":{"polluted":true}},'),
    status: 400,
    code: 'BODY_NOT_JSON'
  },
  {
    name: '__proto__ inside flow_output',
    body: v1({}).replace('"branch":"1"', '"branch":"1","__proto__":{"polluted":true}'),
    status: 400,
    code: 'BODY_NOT_JSON'
  },
  // Invalid UTF-8.
  {
    name: 'a stray 0xff byte',
    body: Buffer.concat([
      Buffer.from(seedText.slice(0, 30)),
      Buffer.from([0xff, 0xfe]),
      Buffer.from(seedText.slice(30))
    ]),
    status: 400,
    code: 'BODY_BAD_ENCODING'
  },
  {
    name: 'an overlong encoding',
    body: Buffer.concat([
      Buffer.from(seedText.slice(0, 30)),
      Buffer.from([0xc0, 0xaf]),
      Buffer.from(seedText.slice(30))
    ]),
    status: 400,
    code: 'BODY_BAD_ENCODING'
  },
  {
    name: 'an encoded lone surrogate',
    body: Buffer.concat([
      Buffer.from(seedText.slice(0, 30)),
      Buffer.from([0xed, 0xa0, 0x80]),
      Buffer.from(seedText.slice(30))
    ]),
    status: 400,
    code: 'BODY_BAD_ENCODING'
  },
  {
    name: 'a truncated multi-byte sequence at the end of a string',
    body: Buffer.concat([
      Buffer.from(seedText.slice(0, 30)),
      Buffer.from([0xe4, 0xbd]),
      Buffer.from(seedText.slice(30))
    ]),
    status: 400,
    code: 'BODY_BAD_ENCODING'
  },
  // Over the body limit.
  {
    name: 'a huge string over the limit',
    body: v1({ text: 'x'.repeat(LIMIT + 10) }),
    status: 413,
    code: 'BODY_TOO_LARGE'
  },
  {
    name: 'a huge array over the limit',
    body: v1({ flow_output: Array.from({ length: LIMIT / 2 }, () => ({})) }),
    status: 413,
    code: 'BODY_TOO_LARGE'
  },
  {
    name: 'a huge array of wrong types within the limit',
    body: v1({ flow_output: Array.from({ length: LIMIT / 4 }, () => 1) }),
    status: 400,
    code: 'BODY_INVALID',
    names: /flow_output/
  },
  // V1, each field wrong.
  invalid('V1 message_id missing', withoutField('message_id'), /message_id/),
  invalid('V1 message_id a number', v1({ message_id: 12345 }), /message_id/),
  invalid('V1 message_id null', v1({ message_id: null }), /message_id/),
  invalid('V1 message_id empty', v1({ message_id: '' }), /message_id/),
  invalid('V1 message_id too long', v1({ message_id: 'x'.repeat(257) }), /message_id/),
  invalid('V1 message_id with NUL', v1({ message_id: 'a\u0000b' }), /message_id/),
  invalid('V1 message_id an object', v1({ message_id: { $gt: '' } }), /message_id/),
  invalid('V1 message_type missing', withoutField('message_type'), /message_type/),
  invalid('V1 message_type lower case', v1({ message_type: 'answer' }), /message_type/),
  invalid('V1 message_type a number', v1({ message_type: 1 }), /message_type/),
  invalid('V1 text a number', v1({ text: 1 }), /text/),
  invalid('V1 text an object', v1({ text: { a: 1 } }), /text/),
  invalid('V1 text an array', v1({ text: ['a'] }), /text/),
  invalid('V1 flow_output an object', v1({ flow_output: { content: 'x' } }), /flow_output/),
  invalid('V1 flow_output a string', v1({ flow_output: 'x' }), /flow_output/),
  invalid('V1 flow_output of numbers', v1({ flow_output: [1, 2] }), /flow_output/),
  invalid('V1 flow_output content a number', v1({ flow_output: [{ content: 1 }] }), /flow_output/),
  invalid('V1 flow_output branch an object', v1({ flow_output: [{ branch: {} }] }), /flow_output/),
  invalid(
    'V1 flow_output from_component_name an array',
    v1({ flow_output: [{ from_component_name: [] }] }),
    /flow_output/
  ),
  invalid('V1 create_time missing', withoutField('create_time'), /create_time/),
  invalid('V1 create_time a string', v1({ create_time: '1679587005' }), /create_time/),
  invalid('V1 create_time negative', v1({ create_time: -1 }), /create_time/),
  invalid('V1 create_time null', v1({ create_time: null }), /create_time/),
  invalid('V1 conversation_id missing', withoutField('conversation_id'), /conversation_id/),
  invalid('V1 conversation_id a number', v1({ conversation_id: 42 }), /conversation_id/),
  invalid('V1 conversation_id a boolean', v1({ conversation_id: true }), /conversation_id/),
  invalid(
    'V1 every field wrong',
    raw({ message_id: 1, message_type: 2, text: 3, flow_output: 4, create_time: 'x', conversation_id: [] }),
    /message_id/
  ),
  // V2, each field wrong.
  invalid('V2 message_id missing', withoutField('message_id', v2Base), /message_id/),
  invalid('V2 message_id a number', v2({ message_id: 7 }), /message_id/),
  invalid('V2 conversation_id missing', withoutField('conversation_id', v2Base), /conversation_id/),
  invalid('V2 conversation_id an array', v2({ conversation_id: ['a'] }), /conversation_id/),
  invalid('V2 create_time a string', v2({ create_time: 'yesterday' }), /create_time/),
  invalid('V2 output an object', v2({ output: { content: { text: 'x' } } }), /output/),
  invalid('V2 output null', v2({ output: null }), /output/),
  invalid('V2 output of numbers', v2({ output: [1] }), /output/),
  invalid('V2 output content a string', v2({ output: [{ content: 'x' }] }), /output/),
  invalid('V2 output content.text a number', v2({ output: [{ content: { text: 1 } }] }), /output/),
  invalid('V2 output content.audio a string', v2({ output: [{ content: { audio: 'x' } }] }), /output/),
  invalid(
    'V2 output content.audio[].audio missing',
    v2({ output: [{ content: { audio: [{ transcript: 'x' }] } }] }),
    /output/
  ),
  invalid(
    'V2 output from_component_name a number',
    v2({ output: [{ from_component_name: 1, content: { text: 'x' } }] }),
    /output/
  ),
  invalid('V2 usage a string', v2({ usage: 'lots' }), /usage/),
  invalid('V2 usage.tokens.total_tokens a string', v2({ usage: { tokens: { total_tokens: '12' } } }), /usage/),
  invalid('V2 usage.credits.total_credits an object', v2({ usage: { credits: { total_credits: {} } } }), /usage/),
  // Content types.
  { name: 'text/plain', body: seedText, headers: { 'content-type': 'text/plain' }, status: 415, code: 'MEDIA_TYPE' },
  {
    name: 'form-urlencoded',
    body: 'message_id=x',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    status: 415,
    code: 'MEDIA_TYPE'
  },
  {
    name: 'multipart',
    body: seedText,
    headers: { 'content-type': 'multipart/form-data; boundary=x' },
    status: 415,
    code: 'MEDIA_TYPE'
  },
  {
    name: 'application/xml',
    body: '<a/>',
    headers: { 'content-type': 'application/xml' },
    status: 415,
    code: 'MEDIA_TYPE'
  },
  { name: 'no content-type', body: seedText, headers: { 'content-type': undefined }, status: 415, code: 'MEDIA_TYPE' },
  // Credentials: checked before the body, so a bad body behind bad credentials is a 401.
  {
    name: 'no authorization',
    body: seedText,
    headers: { authorization: undefined },
    status: 401,
    code: 'AUTH_MISSING'
  },
  { name: 'empty authorization', body: seedText, headers: { authorization: '' }, status: 401, code: 'AUTH_MISSING' },
  {
    name: 'wrong bearer token',
    body: seedText,
    headers: { authorization: 'Bearer not-the-token' },
    status: 401,
    code: 'AUTH_INVALID'
  },
  {
    name: 'token without a scheme',
    body: seedText,
    headers: { authorization: TOKEN },
    status: 401,
    code: 'AUTH_SCHEME'
  },
  {
    name: 'unknown scheme',
    body: seedText,
    headers: { authorization: `Token ${TOKEN}` },
    status: 401,
    code: 'AUTH_SCHEME'
  },
  {
    name: 'Digest scheme',
    body: seedText,
    headers: { authorization: 'Digest username="x", realm="y"' },
    status: 401,
    code: 'AUTH_SCHEME'
  },
  {
    name: 'bare Bearer',
    body: seedText,
    headers: { authorization: 'Bearer' },
    status: 401,
    code: ['AUTH_SCHEME', 'AUTH_INVALID']
  },
  {
    name: 'Basic with a wrong password',
    body: seedText,
    headers: { authorization: `Basic ${Buffer.from('user:wrong').toString('base64')}` },
    status: 401,
    code: 'AUTH_INVALID'
  },
  {
    name: 'Basic that is not base64',
    body: seedText,
    headers: { authorization: 'Basic %%%' },
    status: 401,
    code: 'AUTH_INVALID'
  },
  {
    name: 'an 8 kB token',
    body: seedText,
    headers: { authorization: `Bearer ${'t'.repeat(8000)}` },
    status: 401,
    code: 'AUTH_INVALID'
  },
  {
    name: 'the token as a prefix',
    body: seedText,
    headers: { authorization: `Bearer ${TOKEN}x` },
    status: 401,
    code: 'AUTH_INVALID'
  },
  {
    name: 'bad credentials and bad JSON',
    body: '{{{',
    headers: { authorization: 'Bearer wrong' },
    status: 401,
    code: 'AUTH_INVALID'
  },
  {
    name: 'no credentials and a body over the limit',
    body: 'x'.repeat(LIMIT + 1),
    headers: { authorization: undefined },
    status: 401,
    code: 'AUTH_MISSING'
  },
  // Paths and methods.
  { name: 'an unknown source', body: seedText, url: '/webhook/nobody', status: 404, code: 'SOURCE_UNKNOWN' },
  {
    name: 'a source name with odd characters',
    body: seedText,
    url: '/webhook/%2e%2e%2fadmin',
    status: 404,
    code: ['SOURCE_UNKNOWN', 'ROUTE_NOT_FOUND']
  },
  { name: 'GET /webhook', method: 'GET', url: '/webhook', status: 404, code: 'ROUTE_NOT_FOUND' },
  { name: 'PUT /webhook', method: 'PUT', body: seedText, url: '/webhook', status: 404, code: 'ROUTE_NOT_FOUND' },
  { name: 'a path below a source', body: seedText, url: '/webhook/a/b', status: 404, code: 'ROUTE_NOT_FOUND' }
]

const app = await testApp(t, { config: { server: { bodyLimit: LIMIT } } })

async function nothingStored(test: Test) {
  test.same(await app.relay.store.listDeliveries({}), [], 'nothing stored')
  test.same(await app.relay.store.pendingByRelay(), {}, 'nothing pending')
}

async function healthy(test: Test) {
  const res = await app.inject({ method: 'GET', url: '/healthz' })
  test.equal(res.statusCode, 200, 'still healthy')
}

function checkEnvelope(
  test: Test,
  res: { statusCode: number; headers: Record<string, unknown>; body: string },
  c: Pick<Case, 'status' | 'code' | 'names'>
) {
  test.equal(res.statusCode, c.status, 'status')
  const codes = Array.isArray(c.code) ? c.code : [c.code]
  test.ok(
    codes.includes(String(res.headers['x-relay-error'])),
    `x-relay-error ${String(res.headers['x-relay-error'])} is one of ${codes.join(', ')}`
  )
  test.match(String(res.headers['content-type']), /^application\/json/, 'a JSON answer')
  let body: { code?: unknown; msg?: unknown } = {}
  try {
    body = JSON.parse(res.body)
  } catch {
    test.fail(`not JSON: ${res.body.slice(0, 200)}`)
  }
  test.same(Object.keys(body).sort(), ['code', 'msg'], 'only code and msg')
  test.equal(body.code, c.status, 'code is the status')
  test.type(body.msg, 'string')
  const msg = String(body.msg)
  test.notMatch(msg, /\n\s+at |node_modules|\/src\//, 'no stack trace or paths')
  test.ok(msg.length < 4096, `msg is short (${msg.length} characters)`)
  if (c.names) test.match(msg, c.names, 'msg names the field')
}

t.test('hostile requests, one by one', async t => {
  for (const c of cases) {
    await t.test(c.name, async t => {
      const headers: Record<string, string> = {}
      for (const [k, v] of Object.entries({ 'content-type': json, authorization: bearer, ...c.headers }))
        if (v !== undefined) headers[k] = v
      const res = await app.inject({
        method: c.method ?? 'POST',
        url: c.url ?? '/webhook',
        headers,
        ...(c.body === undefined ? {} : { payload: c.body })
      })
      checkEnvelope(t, res, c)
    })
  }
  await healthy(t)
  await nothingStored(t)
})

t.test('the same hostile requests all at once', async t => {
  const answers = await Promise.all(
    cases.map(c => {
      const headers: Record<string, string> = {}
      for (const [k, v] of Object.entries({ 'content-type': json, authorization: bearer, ...c.headers }))
        if (v !== undefined) headers[k] = v
      return app.inject({
        method: c.method ?? 'POST',
        url: c.url ?? '/webhook',
        headers,
        ...(c.body === undefined ? {} : { payload: c.body })
      })
    })
  )
  for (const [i, res] of answers.entries()) {
    const codes = Array.isArray(cases[i]!.code) ? cases[i]!.code : [cases[i]!.code]
    t.ok(
      res.statusCode === cases[i]!.status && codes.includes(String(res.headers['x-relay-error'])),
      `${cases[i]!.name}: ${res.statusCode} ${String(res.headers['x-relay-error'])}`
    )
  }
  await healthy(t)
  await nothingStored(t)
})

// Over a real socket: what inject cannot do.
const rawRequest = (port: number, head: string, body: Buffer | string, { end = true, waitMs = 10000 } = {}) =>
  new Promise<{ answer: string; closed: boolean }>(resolve => {
    const socket = connect(port, '127.0.0.1')
    let answer = ''
    let settled = false
    const finish = (closed: boolean) => {
      if (!settled) {
        settled = true
        clearTimeout(timer)
        socket.destroy()
        resolve({ answer, closed })
      }
    }
    const timer = setTimeout(() => finish(false), waitMs)
    socket.on('data', chunk => {
      answer += chunk
    })
    socket.on('close', () => finish(true))
    socket.on('error', () => finish(true))
    socket.on('connect', () => {
      socket.write(head + '\r\n')
      if (body.length > 0) socket.write(body)
      if (end) socket.end()
    })
  })
const headOf = (port: number, lines: string[]) =>
  [`POST /webhook HTTP/1.1`, `Host: 127.0.0.1:${port}`, `Authorization: ${bearer}`, ...lines, ''].join('\r\n')
const statusOf = (answer: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0)
const relayError = (answer: string) => /\r\nx-relay-error: ([A-Z_]+)/i.exec(answer)?.[1]

t.test('over a real socket', async t => {
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as AddressInfo).port

  await t.test('a content-length over the limit is refused before the body is sent', async t => {
    const { answer } = await rawRequest(
      port,
      headOf(port, ['Content-Type: application/json', 'Content-Length: 10000000']),
      '',
      { end: false, waitMs: 10000 }
    )
    t.equal(statusOf(answer), 413, answer.split('\r\n')[0] ?? '')
    t.equal(relayError(answer), 'BODY_TOO_LARGE')
  })

  await t.test('a content-length shorter than the body: the body read is truncated JSON', async t => {
    const { answer } = await rawRequest(
      port,
      headOf(port, ['Content-Type: application/json', `Content-Length: ${seedText.length - 10}`, 'Connection: close']),
      seedText
    )
    // Node's HTTP parser meets the leftover bytes as a malformed next request and answers 400 itself,
    // before the app has answered the first: a 400, never a 200, and nothing stored.
    t.equal(statusOf(answer), 400, answer.split('\r\n')[0] ?? '')
  })

  await t.test('a content-length longer than the body, then the client goes away: no 200, nothing stored', async t => {
    const { answer } = await rawRequest(
      port,
      headOf(port, ['Content-Type: application/json', `Content-Length: ${seedText.length + 100}`]),
      seedText,
      { waitMs: 5000 }
    )
    t.not(statusOf(answer), 200, `not acknowledged (${answer.split('\r\n')[0] || 'no answer'})`)
  })

  await t.test('a body that stops half-way and hangs: other requests are served meanwhile', async t => {
    const stalled = rawRequest(
      port,
      headOf(port, ['Content-Type: application/json', `Content-Length: ${seedText.length}`]),
      seedText.slice(0, 20),
      { end: false, waitMs: 3000 }
    )
    const health = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(5000) })
    t.equal(health.status, 200, 'healthz answers while a body is stalled')
    const { answer } = await stalled
    t.not(statusOf(answer), 200, 'the stalled request is not acknowledged')
  })

  await t.test('a non-numeric content-length', async t => {
    const { answer } = await rawRequest(
      port,
      headOf(port, ['Content-Type: application/json', 'Content-Length: abc', 'Connection: close']),
      seedText
    )
    t.equal(statusOf(answer), 400, answer.split('\r\n')[0] ?? '')
  })

  await t.test('a chunked body over the limit', async t => {
    const chunk = v1({ text: 'y'.repeat(LIMIT) })
    const body = `${chunk.length.toString(16)}\r\n${chunk}\r\n0\r\n\r\n`
    const { answer } = await rawRequest(
      port,
      headOf(port, ['Content-Type: application/json', 'Transfer-Encoding: chunked', 'Connection: close']),
      body
    )
    t.equal(statusOf(answer), 413, answer.split('\r\n')[0] ?? '')
    t.equal(relayError(answer), 'BODY_TOO_LARGE')
  })

  const health = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(5000) })
  t.equal(health.status, 200, 'still healthy')
  await nothingStored(t)
})

t.test(
  'within the limit, huge but valid messages are accepted once: the suite can tell a refusal from an acceptance',
  async t => {
    const big = await app.inject({
      method: 'POST',
      url: '/webhook',
      headers: { 'content-type': json, authorization: bearer },
      payload: v1({ message_id: 'big-text', text: 'z'.repeat(LIMIT - 1024) })
    })
    t.equal(big.statusCode, 200, big.body)
    const many = await app.inject({
      method: 'POST',
      url: '/webhook',
      headers: { 'content-type': 'application/json; charset=utf-8', authorization: bearer },
      payload: v1({
        message_id: 'many-outputs',
        flow_output: Array.from({ length: 2000 }, (_, i) => ({ content: `c${i}` }))
      })
    })
    t.equal(many.statusCode, 200, many.body)
    // 100k nested arrays in an unknown field of a valid message: the README promises BODY_NOT_JSON
    // ("nested too deeply"); today the relay accepts it (the field is dropped). Either way: no 5xx, healthy.
    const deep = await app.inject({
      method: 'POST',
      url: '/webhook',
      headers: { 'content-type': json, authorization: bearer },
      payload: v1({ message_id: 'deep-extra' }).replace(/}$/, `,"extra":${nested(100_000)}}`)
    })
    t.ok(
      deep.statusCode === 200 || (deep.statusCode === 400 && deep.headers['x-relay-error'] === 'BODY_NOT_JSON'),
      `deep nesting in an unknown field: ${deep.statusCode} ${String(deep.headers['x-relay-error'])}`
    )
    await healthy(t)
    const deliveries = await app.relay.store.listDeliveries({})
    t.equal(deliveries.length, deep.statusCode === 200 ? 3 : 2, 'each accepted message stored once')
    t.same(
      deliveries.map(d => d.messageId).sort(),
      ['big-text', 'many-outputs', ...(deep.statusCode === 200 ? ['deep-extra'] : [])].sort()
    )
  }
)
