import t from 'tap'
import { ManualClock } from '../../test/helpers/clock.js'
import { post, seed, testApp } from '../../test/helpers/app.js'
import { receiver } from '../../test/helpers/receiver.js'
import { sign, verify } from './signature.js'

const SECRET = 'a-shared-secret-of-enough-length'

/** The relay as users configure it: loaded by path from the config, like any custom relay. */
const forwarderConfig = (url: string, extra: Record<string, unknown> = {}) => ({
  relays: { forward: { type: './plugins/http-forwarder', url, secret: SECRET, ...extra } }
})

t.test(
  'signatures: what the sender signs, a receiver verifies; tampering, staleness and absence are refused',
  async t => {
    const body = '{"a":1}'
    const signature = sign(SECRET, 1000, body)
    t.match(signature, /^sha256=[0-9a-f]{64}$/)
    t.same(verify(SECRET, signature, '1000', body, 1100), { ok: true })
    t.same(verify(SECRET, signature, '1000', '{"a":2}', 1100), { ok: false, reason: 'mismatch' })
    t.same(verify('another-secret-of-some-length', signature, '1000', body, 1100), { ok: false, reason: 'mismatch' })
    t.same(
      verify(SECRET, signature, '1001', body, 1100),
      { ok: false, reason: 'mismatch' },
      'the timestamp is signed too'
    )
    t.same(verify(SECRET, signature, '1000', body, 1400), { ok: false, reason: 'stale' })
    t.same(verify(SECRET, undefined, '1000', body, 1000), { ok: false, reason: 'missing' })
    t.same(verify(SECRET, 'sha256=00', '1000', body, 1000), { ok: false, reason: 'mismatch' })
  }
)

t.test('end to end: webhook in, signed JSON out to a real local receiver, in order', async t => {
  const hook = await receiver(t)
  const app = await testApp(t, { config: forwarderConfig(hook.url, { headers: { 'x-api-key': 'receiver-key' } }) })
  for (let n = 0; n < 5; n++)
    t.equal((await post(app, seed({ message_id: `m${n}`, text: `part ${n}` }))).statusCode, 200)
  await app.relay.dispatcher.drain()
  t.equal(hook.received.length, 5)
  for (const [n, request] of hook.received.entries()) {
    t.equal(request.headers['content-type'], 'application/json')
    t.equal(request.headers['x-api-key'], 'receiver-key', 'extra headers are sent')
    t.equal(request.headers['idempotency-key'], `default:ANSWER:m${n}`)
    t.same(
      verify(
        SECRET,
        request.headers['x-relay-signature'] as string,
        request.headers['x-relay-timestamp'] as string,
        request.body,
        Math.floor(Date.now() / 1000)
      ),
      { ok: true }
    )
    const message = JSON.parse(request.body)
    t.match(message, {
      messageId: `m${n}`,
      conversationId: '657303a8a764d47094874bbe',
      type: 'ANSWER',
      text: `part ${n}`,
      format: 'v1'
    })
    t.notOk('message_id' in message, 'the receiver gets the normalised message, never the raw GPTBots shape')
  }
  const log = await app.relay.store.listDeliveries({})
  t.ok(log.every(d => d.status === 'delivered' && (d.posted as { status: number }).status === 200))
})

t.test('5xx, 429 with Retry-After, and a dropped connection are retried; nothing is lost or doubled', async t => {
  const answers = [{ status: 503 }, { status: 429, headers: { 'retry-after': '7' } }, 'drop' as const]
  const hook = await receiver(t, () => answers.shift() ?? { status: 204 })
  const clock = new ManualClock(Date.now())
  const app = await testApp(t, { clock, random: () => 1, config: forwarderConfig(hook.url) })
  await post(app, seed())
  await app.relay.dispatcher.drain()
  let [record] = await app.relay.store.listDeliveries({})
  t.match(record, { status: 'pending', lastError: /answered HTTP 503/ })
  clock.advance(1000)
  await app.relay.dispatcher.drain()
  ;[record] = await app.relay.store.listDeliveries({})
  t.match(record, { status: 'pending', lastError: /answered HTTP 429/ })
  t.equal(await app.relay.store.nextDueAt(['forward'], clock.now()), clock.now() + 7000, 'Retry-After: 7 is honoured')
  clock.advance(7000)
  await app.relay.dispatcher.drain()
  ;[record] = await app.relay.store.listDeliveries({})
  t.match(record, { status: 'pending', lastError: /cannot reach/ })
  clock.advance(60_000)
  await app.relay.dispatcher.drain()
  ;[record] = await app.relay.store.listDeliveries({})
  t.match(record, { status: 'delivered', attempts: 4 })
  t.equal(hook.received.length, 1)
})

t.test('a receiver that refuses (4xx) dead-letters the message with its answer', async t => {
  const hook = await receiver(t, () => ({ status: 401, body: 'bad api key' }))
  const app = await testApp(t, { config: forwarderConfig(hook.url) })
  await post(app, seed())
  await app.relay.dispatcher.drain()
  const [dead] = await app.relay.store.listDeliveries({ status: 'dead' })
  t.match(dead, { attempts: 1, lastError: `${hook.url} answered HTTP 401: bad api key` })
})

t.test('a receiver that hangs is abandoned after timeoutMs and retried', async t => {
  let hang = true
  const hook = await receiver(t, () => (hang ? ((hang = false), 'hang') : { status: 200 }))
  const clock = new ManualClock(Date.now())
  const app = await testApp(t, { clock, config: forwarderConfig(hook.url, { timeoutMs: 200 }) })
  await post(app, seed())
  await app.relay.dispatcher.drain()
  const [record] = await app.relay.store.listDeliveries({})
  t.match(record, { status: 'pending', lastError: /no answer from .* within 200 ms/ })
  clock.advance(60_000)
  await app.relay.dispatcher.drain()
  t.equal(hook.received.length, 1)
})

t.test('its options are validated at start, naming the relay and the field', async t => {
  await t.rejects(
    testApp(t, {
      config: { relays: { forward: { type: './plugins/http-forwarder', url: 'ftp://x', secret: 'short' } } }
    }),
    /relays\.forward\.url must be a URL starting with https:\/\/ \(or http:\/\/\)\nrelays\.forward\.secret must be at least 16 characters/
  )
  await t.rejects(
    testApp(t, { config: { relays: { forward: { type: './plugins/http-forwarder', secret: SECRET } } } }),
    /relays\.forward\.url is required/
  )
})

t.test('ids beyond Latin-1 are delivered: the idempotency key is %-escaped UTF-8, ASCII ids unchanged', async t => {
  const hook = await receiver(t)
  const app = await testApp(t, { config: forwarderConfig(hook.url) })
  for (const id of ['消息-1', 'Ω%50 ü', 'plain-ascii_id.42'])
    t.equal((await post(app, seed({ message_id: id, text: id }))).statusCode, 200)
  await app.relay.dispatcher.drain()
  t.same(
    hook.received.map(r => r.headers['idempotency-key']),
    ['default:ANSWER:%E6%B6%88%E6%81%AF-1', 'default:ANSWER:%CE%A9%2550%20%C3%BC', 'default:ANSWER:plain-ascii_id.42']
  )
  t.same(
    hook.received.map(r => JSON.parse(r.body).messageId),
    ['消息-1', 'Ω%50 ü', 'plain-ascii_id.42'],
    'the body carries the id as it was'
  )
  const dead = await app.relay.store.listDeliveries({ status: 'dead', limit: 10 })
  t.same(dead, [], 'nothing was dead-lettered')
})
