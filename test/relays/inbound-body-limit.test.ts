import t from 'tap'
import type { Relay } from '../../src/relays/types.js'
import { listening, rawRequest, request } from '../http/helpers.js'

// A relay's inbound route that declares a body limit refuses a larger body before reading it,
// however it is framed; a route without one takes up to server.bodyLimit as before.

function relayWithRoute(bodyLimit: number | undefined, seen: number[]): Relay {
  return {
    deliver: async () => ({ status: 'delivered' }),
    inbound: [
      {
        path: 'events',
        ...(bodyLimit === undefined ? {} : { bodyLimit }),
        handle: async request => {
          seen.push(request.rawBody.length)
          return { status: 200, body: '' }
        }
      }
    ]
  }
}

// Under server.bodyLimit (1 MiB), so that only the route's own limit keeps it from being read.
const big = 'x'.repeat(900_000)

t.test('a body over the route limit, with its length announced: 413, not read, not handled', async t => {
  const seen: number[] = []
  const { port, read } = await listening(t, { relays: new Map([['slack', relayWithRoute(64 * 1024, seen)]]) })
  const answer = await rawRequest(
    port,
    request('POST', '/relays/slack/events', { host: 'relay', 'content-length': big.length }, big)
  )
  t.equal(answer.status, 413)
  t.equal(answer.headers['x-relay-error'], 'BODY_TOO_LARGE')
  t.match(answer.body, { code: 413, msg: /limit of 65536 bytes/ })
  t.same(seen, [], 'the route never ran')
  t.ok(read[0]! < big.length / 2, `the relay read ${read[0]} of ${big.length} bytes`)
})

t.test('a chunked body over the route limit is cut off once past it', async t => {
  const seen: number[] = []
  const { port } = await listening(t, { relays: new Map([['slack', relayWithRoute(64 * 1024, seen)]]) })
  const chunk = (text: string) => `${text.length.toString(16)}\r\n${text}\r\n`
  const body = `${chunk(big.slice(0, 100_000))}${chunk(big.slice(100_000))}0\r\n\r\n`
  const answer = await rawRequest(
    port,
    request('POST', '/relays/slack/events', { host: 'relay', 'transfer-encoding': 'chunked' }, body)
  )
  t.equal(answer.status, 413)
  t.equal(answer.headers['x-relay-error'], 'BODY_TOO_LARGE')
  t.same(seen, [], 'the route never ran')
})

t.test('under the limit, or with no limit of its own, the route gets the whole body', async t => {
  const seen: number[] = []
  const { port } = await listening(t, {
    relays: new Map([
      ['slack', relayWithRoute(64 * 1024, seen)],
      ['custom', relayWithRoute(undefined, seen)]
    ])
  })
  const small = 'y'.repeat(1000)
  for (const [path, body] of [
    ['/relays/slack/events', small],
    ['/relays/custom/events', big]
  ] as const) {
    const answer = await rawRequest(
      port,
      request('POST', path, { host: 'relay', 'content-length': body.length }, body),
      { untilAnswer: true }
    )
    t.equal(answer.status, 200, path)
  }
  t.same(seen, [1000, big.length])
})
