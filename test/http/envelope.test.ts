import { connect } from 'node:net'
import t from 'tap'
import { TOKEN } from '../helpers/app.js'
import { listening, parseAnswer, rawRequest, request } from './helpers.js'

// What node's parser or Fastify's router refuse before any route runs is still answered in the
// envelope, with its x-relay-error header; and a body over the limit ends in a readable 413.

const cases: { name: string; data: string; status: number; code: string; msg: RegExp }[] = [
  {
    name: 'a Content-Length that is not a number',
    data: 'POST /webhook HTTP/1.1\r\nhost: relay\r\ncontent-length: abc\r\n\r\n',
    status: 400,
    code: 'REQUEST_MALFORMED',
    msg: /Content-Length/
  },
  {
    name: 'two different Content-Lengths',
    data: 'POST /webhook HTTP/1.1\r\nhost: relay\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\n{}',
    status: 400,
    code: 'REQUEST_MALFORMED',
    msg: /Content-Length/
  },
  {
    name: 'a 100 KB header',
    data: `GET /healthz HTTP/1.1\r\nhost: relay\r\nx-big: ${'a'.repeat(100_000)}\r\n\r\n`,
    status: 431,
    code: 'HEADERS_TOO_LARGE',
    msg: /16 KiB/
  },
  {
    name: 'a long source name',
    data: `POST /webhook/${'a'.repeat(5000)} HTTP/1.1\r\nhost: relay\r\ncontent-length: 0\r\n\r\n`,
    status: 414,
    code: 'URL_TOO_LONG',
    msg: /longer than 100 characters/
  },
  {
    name: '/webhook/%ff',
    data: 'POST /webhook/%ff HTTP/1.1\r\nhost: relay\r\ncontent-length: 0\r\n\r\n',
    status: 400,
    code: 'URL_INVALID',
    msg: /%ff/
  },
  {
    name: 'no Host header',
    data: 'GET /healthz HTTP/1.1\r\n\r\n',
    status: 400,
    code: 'HOST_MISSING',
    msg: /Host/
  },
  {
    name: 'not HTTP at all',
    data: 'HELLO THERE\r\n\r\n',
    status: 400,
    code: 'REQUEST_MALFORMED',
    msg: /HTTP/
  }
]

for (const c of cases) {
  t.test(`${c.name}: ${c.status} ${c.code} in the envelope`, async t => {
    const { port } = await listening(t)
    const answer = await rawRequest(port, c.data, { untilAnswer: true })
    t.equal(answer.status, c.status, answer.text.slice(0, 200))
    t.equal(answer.headers['x-relay-error'], c.code)
    t.match(answer.headers['content-type'], /^application\/json/)
    t.match(answer.body, { code: c.status, msg: c.msg })
  })
}

/** Writes `data` and resolves once the kernel took it, or with the error that refused it. */
const write = (socket: ReturnType<typeof connect>, data: Buffer | string) =>
  new Promise<Error | undefined>(resolve => socket.write(data, error => resolve(error ?? undefined)))

t.test('a client that sends all of its 8 MiB body after the 413 finishes it, reads the 413 and may go on', async t => {
  const { port } = await listening(t)
  const size = 8 * 1024 * 1024
  const socket = connect(port, '127.0.0.1')
  let text = ''
  socket.on('data', chunk => {
    text += chunk.toString()
  })
  let socketError: string | undefined
  socket.on('error', error => {
    socketError = (error as NodeJS.ErrnoException).code
  })
  await new Promise(resolve => socket.once('connect', resolve))
  const head = request('POST', '/webhook', {
    host: 'relay',
    authorization: `Bearer ${TOKEN}`,
    'content-type': 'application/json',
    'content-length': size
  })
  t.equal(await write(socket, head), undefined)
  const chunk = Buffer.alloc(64 * 1024, 'x')
  let failed: Error | undefined
  for (let sent = 0; sent < size && !failed; sent += chunk.length) failed = await write(socket, chunk)
  t.equal(failed, undefined, 'every byte of the body was taken: the relay did not reset the connection')
  // The same connection serves the next request once the refused body is through.
  t.equal(await write(socket, request('GET', '/healthz', { host: 'relay' })), undefined)
  await new Promise<void>(resolve => {
    socket.once('close', resolve)
    const check = () => (/\r\n\r\n\{"status":"ok"\}/.test(text) ? resolve() : socket.once('data', check))
    check()
  })
  socket.destroy()
  t.equal(socketError, undefined)
  const first = parseAnswer(text)
  t.equal(first.status, 413)
  t.match(first.body, { code: 413, msg: /server\.bodyLimit/ })
})

t.test("node's fetch posting 8 MiB gets a readable 413 every time", async t => {
  const { port } = await listening(t)
  const body = Buffer.alloc(8 * 1024 * 1024, 'x')
  const outcomes: string[] = []
  for (let i = 0; i < 20; i++) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/webhook`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
        body
      })
      outcomes.push(
        `${res.status} ${res.headers.get('x-relay-error')} ${((await res.json()) as { code: number }).code}`
      )
    } catch (error) {
      outcomes.push(`failed: ${(error as Error).cause ?? error}`)
    }
  }
  t.same(new Set(outcomes), new Set(['413 BODY_TOO_LARGE 413']))
})
