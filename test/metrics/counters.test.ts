import t from 'tap'
import { ManualClock } from '../helpers/clock.js'
import type { DeliveryOutcome } from '../../src/relays/types.js'
import { FakeRelay } from '../helpers/fake-relay.js'
import { post, seed, testApp, TOKEN } from '../helpers/app.js'
import { scrape } from './samples.js'

const SUPPORT_TOKEN = 'support-token-0123456789'

t.test('intake, delivery and HTTP counters and histograms, with their labels', async t => {
  const clock = new ManualClock()
  // One relay whose answer depends on the message: delivered, rate-limited once, or refused for good.
  let limited = false
  const relay = new FakeRelay((message): DeliveryOutcome => {
    if (message.messageId === 'm-limited' && !limited) {
      limited = true
      return { status: 'retry', error: 'HTTP 429', retryAfterMs: 1000 }
    }
    if (message.messageId === 'm-bad') return { status: 'failed', error: 'channel_not_found' }
    return { status: 'delivered' }
  })
  const app = await testApp(t, {
    relays: new Map([['chat', relay]]),
    clock,
    config: { auth: { tokens: [TOKEN], sources: { support: { tokens: [SUPPORT_TOKEN] } } } }
  })
  // GPTBots created each message 2 s before the relay received it.
  const message = (id: string, conversation: string, type = 'ANSWER') =>
    seed({ message_id: id, conversation_id: conversation, message_type: type, create_time: clock.now() - 2000 })

  const answers = [
    await post(app, message('m-ok', 'c1')),
    await post(app, message('m-limited', 'c2')),
    await post(app, message('m-bad', 'c3')),
    await post(app, message('m-ok', 'c1')),
    await post(app, message('m-q', 'c4', 'QUESTION')),
    await post(app, { istest: true }),
    await post(app, message('m-s', 'c5'), { authorization: `Bearer ${SUPPORT_TOKEN}` }, '/webhook/support')
  ]
  t.same(
    answers.map(a => a.statusCode),
    [200, 200, 200, 200, 200, 200, 200]
  )
  t.equal((await post(app, message('m-x', 'c6'), { authorization: 'Bearer wrong-token' })).statusCode, 401)
  t.equal((await post(app, { istest: true }, {}, '/webhook/no-such-source-7f3a')).statusCode, 404)
  t.equal((await app.inject({ method: 'GET', url: '/no/such/page-91c2' })).statusCode, 404)

  clock.advance(300)
  await app.relay.dispatcher.drain()
  let s = await scrape(app)

  t.equal(
    s.value('gptbots_relay_messages_received_total', { source: 'default', type: 'ANSWER' }),
    3,
    'new answers, not the duplicate'
  )
  t.equal(s.value('gptbots_relay_messages_received_total', { source: 'default', type: 'QUESTION' }), 1)
  t.equal(s.value('gptbots_relay_messages_received_total', { source: 'support', type: 'ANSWER' }), 1)
  t.equal(s.value('gptbots_relay_messages_duplicate_total', { source: 'default' }), 1)
  t.equal(s.value('gptbots_relay_probes_total', { source: 'default' }), 1)
  t.same(
    s.all('gptbots_relay_webhooks_rejected_total').map(x => [x.labels, x.value]),
    [
      [{ code: 'AUTH_INVALID' }, 1],
      [{ code: 'SOURCE_UNKNOWN' }, 1]
    ],
    'by code only: an unknown source name is no label'
  )

  t.equal(s.value('gptbots_relay_delivery_attempts_total', { relay: 'chat', outcome: 'delivered' }), 3)
  t.equal(s.value('gptbots_relay_delivery_attempts_total', { relay: 'chat', outcome: 'retry' }), 1)
  t.equal(s.value('gptbots_relay_delivery_attempts_total', { relay: 'chat', outcome: 'dead' }), 1)
  t.equal(s.value('gptbots_relay_delivery_rate_limited_total', { relay: 'chat' }), 1, 'the retry with a Retry-After')
  t.equal(s.value('gptbots_relay_delivery_attempt_duration_seconds_count', { relay: 'chat' }), 5, 'every attempt timed')

  const latency = (from: string, le: string) =>
    s.value('gptbots_relay_delivery_latency_seconds_bucket', { relay: 'chat', from, le })
  t.equal(
    s.value('gptbots_relay_delivery_latency_seconds_count', { relay: 'chat', from: 'received' }),
    3,
    'only deliveries'
  )
  t.equal(latency('received', '0.25'), 0)
  t.equal(latency('received', '0.5'), 3, '0.3 s from receipt')
  t.equal(latency('created', '1'), 0)
  t.equal(latency('created', '2.5'), 3, '2.3 s from creation')
  t.equal(latency('created', '300'), 3)
  t.equal(latency('created', '+Inf'), 3)
  t.ok(
    Math.abs(s.value('gptbots_relay_delivery_latency_seconds_sum', { relay: 'chat', from: 'created' })! - 6.9) < 1e-9,
    'sum of 3 × 2.3 s'
  )

  t.equal(s.value('gptbots_relay_http_requests_total', { method: 'POST', route: '/webhook', status_code: '200' }), 6)
  t.equal(s.value('gptbots_relay_http_requests_total', { method: 'POST', route: '/webhook', status_code: '401' }), 1)
  t.equal(
    s.value('gptbots_relay_http_requests_total', { method: 'POST', route: '/webhook/:source', status_code: '200' }),
    1
  )
  t.equal(
    s.value('gptbots_relay_http_requests_total', { method: 'POST', route: '/webhook/:source', status_code: '404' }),
    1
  )
  t.equal(s.value('gptbots_relay_http_requests_total', { method: 'GET', route: 'unmatched', status_code: '404' }), 1)
  t.equal(s.value('gptbots_relay_http_request_duration_seconds_count', { method: 'POST', route: '/webhook' }), 7)
  t.notMatch(s.text, /no-such-source-7f3a|page-91c2|m-ok|c1"/, 'no raw URL, message or conversation id in any label')
  t.ok(s.value('process_cpu_user_seconds_total') !== undefined, 'default process metrics')
  t.ok(s.all('nodejs_heap_size_used_bytes').length > 0)

  clock.advance(1000)
  await app.relay.dispatcher.drain()
  s = await scrape(app)
  t.equal(
    s.value('gptbots_relay_delivery_attempts_total', { relay: 'chat', outcome: 'delivered' }),
    4,
    'the rate-limited one, after its wait'
  )
  t.equal(s.value('gptbots_relay_delivery_latency_seconds_count', { relay: 'chat', from: 'received' }), 4)
  t.equal(latency('received', '1'), 3)
  t.equal(latency('received', '2.5'), 4, '1.3 s from receipt')
  t.equal(
    s.value('gptbots_relay_http_requests_total', { method: 'GET', route: '/metrics', status_code: '200' }),
    1,
    'the first scrape, counted once it was answered'
  )
})
