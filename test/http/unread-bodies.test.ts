import { createConnection } from 'node:net'
import t from 'tap'
import { TOKEN } from '../helpers/app.js'
import { listening, rawRequest, request } from './helpers.js'

// Strangers cost nothing: a body sent to no route, to a route that takes none, or without the
// right token is never read (the connection is closed once the answer is out), and a body that
// trickles in is cut off at server.requestTimeoutMs.

const ADMIN = 'admin-token-0123456789'
/** Under server.bodyLimit (1 MiB), so that only the relay's own choice keeps it from being read. */
const BODY = JSON.stringify({ filler: 'x'.repeat(1_000_000) })
const json = { host: 'relay', 'content-type': 'application/json', 'content-length': Buffer.byteLength(BODY) }

const cases: { name: string; path: string; headers: Record<string, string>; status: number; code: string }[] = [
  { name: 'an unmatched path', path: '/nope', headers: {}, status: 404, code: 'ROUTE_NOT_FOUND' },
  { name: 'POST /healthz', path: '/healthz', headers: {}, status: 404, code: 'ROUTE_NOT_FOUND' },
  { name: 'POST /metrics', path: '/metrics', headers: {}, status: 404, code: 'ROUTE_NOT_FOUND' },
  { name: 'an admin route without a token', path: '/admin/reload', headers: {}, status: 401, code: 'ADMIN_AUTH' },
  {
    name: 'an admin route with a wrong token',
    path: '/admin/dead-letters/replay',
    headers: { authorization: 'Bearer not-the-admin-token' },
    status: 401,
    code: 'ADMIN_AUTH'
  },
  {
    name: 'a webhook with a wrong token',
    path: '/webhook',
    headers: { authorization: 'Bearer wrong-token-0123' },
    status: 401,
    code: 'AUTH_INVALID'
  },
  { name: 'a webhook without a token', path: '/webhook', headers: {}, status: 401, code: 'AUTH_MISSING' },
  { name: 'an unknown source', path: '/webhook/nobody', headers: {}, status: 404, code: 'SOURCE_UNKNOWN' }
]

for (const c of cases) {
  t.test(`${c.name}: answered without reading the 1 MB body, and the connection closed`, async t => {
    const { port, read } = await listening(t, { config: { admin: { token: ADMIN } } })
    const answer = await rawRequest(port, request('POST', c.path, { ...json, ...c.headers }, BODY))
    t.equal(answer.status, c.status)
    t.equal(answer.headers['x-relay-error'], c.code)
    t.match(answer.body, { code: c.status, msg: String })
    t.ok(answer.closedByServer, 'the relay closed the connection: the client cannot keep sending')
    t.equal(read.length, 1)
    // A few socket reads at most go by between the answer and the close; never the body.
    t.ok(read[0]! < BODY.length / 2, `the relay read ${read[0]} of ${BODY.length} bytes`)
  })
}

t.test('a small body of a refused request is read and thrown away, so the client sees its answer', async t => {
  const { port } = await listening(t)
  const small = JSON.stringify({ hello: 'world' })
  const answer = await rawRequest(
    port,
    request('POST', '/webhook', { ...json, 'content-length': small.length, authorization: 'Bearer nope-nope' }, small),
    { untilAnswer: true }
  )
  t.equal(answer.status, 401)
  t.equal(answer.headers['x-relay-error'], 'AUTH_INVALID')
  t.notOk(answer.closedByServer, 'kept alive: the little that was sent was taken')
})

t.test('a flood of large bodies to an unmatched path: read not, held not', async t => {
  const { app, port, read } = await listening(t)
  const clients = 40
  const answers = await Promise.all(
    Array.from({ length: clients }, () => rawRequest(port, request('POST', '/nope', json, BODY)))
  )
  t.ok(
    answers.every(a => a.closedByServer),
    'every connection was closed by the relay'
  )
  const total = read.reduce((sum, n) => sum + n, 0)
  t.ok(total < (clients * BODY.length) / 4, `the relay read ${total} of the ${clients * BODY.length} bytes sent`)
  const open = await new Promise<number>((resolve, reject) =>
    app.server.getConnections((error, count) => (error ? reject(error) : resolve(count)))
  )
  t.equal(open, 0, 'no connection is left open afterwards')
})

t.test('a body sent a byte at a time is cut off at server.requestTimeoutMs, in the envelope', async t => {
  const { port } = await listening(t, { config: { server: { headersTimeoutMs: 200, requestTimeoutMs: 400 } } })
  const started = performance.now()
  const socket = createConnection(port, '127.0.0.1')
  let text = ''
  socket.on('data', chunk => {
    text += chunk.toString()
  })
  socket.on('error', () => {})
  socket.write(
    request('POST', '/webhook', {
      host: 'relay',
      authorization: `Bearer ${TOKEN}`,
      'content-type': 'application/json',
      'content-length': 1000
    })
  )
  const drip = setInterval(() => socket.write('x'), 20)
  // Without a limit the drip would go on for 20 s; the test's own guard ends it after 5.
  const guard = setTimeout(() => socket.destroy(), 5000)
  await new Promise(resolve => socket.once('close', resolve))
  clearInterval(drip)
  clearTimeout(guard)
  const elapsed = performance.now() - started
  t.match(text, /^HTTP\/1\.1 408 /)
  t.match(text, /x-relay-error: REQUEST_TIMEOUT/)
  t.match(text, /"code":408/)
  t.match(text, /server\.requestTimeoutMs/)
  t.ok(elapsed < 2000, `cut off after ${Math.round(elapsed)} ms (limit 400 ms)`)
})

t.test('headers sent a line at a time are cut off at server.headersTimeoutMs', async t => {
  const { port } = await listening(t, { config: { server: { headersTimeoutMs: 200, requestTimeoutMs: 5000 } } })
  const started = performance.now()
  const socket = createConnection(port, '127.0.0.1')
  let text = ''
  socket.on('data', chunk => {
    text += chunk.toString()
  })
  socket.on('error', () => {})
  socket.write('POST /webhook HTTP/1.1\r\nhost: relay\r\n')
  let n = 0
  const drip = setInterval(() => socket.write(`x-drip-${n++}: 1\r\n`), 20)
  const guard = setTimeout(() => socket.destroy(), 5000)
  await new Promise(resolve => socket.once('close', resolve))
  clearInterval(drip)
  clearTimeout(guard)
  const elapsed = performance.now() - started
  t.match(text, /^HTTP\/1\.1 408 /)
  t.match(text, /x-relay-error: REQUEST_TIMEOUT/)
  t.ok(elapsed < 2000, `cut off after ${Math.round(elapsed)} ms (limit 200 ms)`)
})
