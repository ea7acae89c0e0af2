import t from 'tap'
import { decide } from '../../src/dispatch/decision.js'
import type { Undelivered } from '../../src/relays/types.js'

// The one decision for every outcome a relay reports: retry (when), hold or dead letter.

const policy = { maxAttempts: 3, backoffBaseMs: 1000, backoffMaxMs: 8000 }
const half = () => 0.5

t.test('a retry backs off within the policy until the last attempt, then is a dead letter', async t => {
  const retry: Undelivered = { status: 'retry', error: 'HTTP 503' }
  t.strictSame(decide(retry, 1, policy, half), { action: 'retry', error: 'HTTP 503', inMs: 750 })
  t.strictSame(decide(retry, 2, policy, half), { action: 'retry', error: 'HTTP 503', inMs: 1500 })
  t.strictSame(decide(retry, 3, policy, half), { action: 'dead', error: 'gave up after 3 attempts: HTTP 503' })
})

t.test("the platform's Retry-After wins over the backoff, and is never negative", async t => {
  t.strictSame(decide({ status: 'retry', error: '429', retryAfterMs: 30_000 }, 1, policy, half), {
    action: 'retry',
    error: '429',
    inMs: 30_000
  })
  t.strictSame(decide({ status: 'retry', error: '429', retryAfterMs: -5 }, 1, policy, half), {
    action: 'retry',
    error: '429',
    inMs: 0
  })
  t.strictSame(
    decide({ status: 'retry', error: '429', retryAfterMs: 1 }, 3, policy, half),
    { action: 'dead', error: 'gave up after 3 attempts: 429' },
    'the last attempt is the last, whatever the platform asked'
  )
})

t.test('a failed message is a dead letter at once, with its own error', async t => {
  t.strictSame(decide({ status: 'failed', error: 'channel_not_found' }, 1, policy, half), {
    action: 'dead',
    error: 'channel_not_found'
  })
})

t.test('held spends no attempt: the relay is held, even on what would be the last attempt', async t => {
  for (const attempt of [1, 3, 10])
    t.strictSame(decide({ status: 'held', error: 'invalid_auth' }, attempt, policy, half), {
      action: 'hold',
      error: 'invalid_auth'
    })
})

t.test('a status no type knows (a relay in JavaScript) is a failed try, counted', async t => {
  const odd = { status: 'maybe', error: 'who knows' } as unknown as Undelivered
  t.strictSame(decide(odd, 1, policy, half), { action: 'retry', error: 'who knows', inMs: 750 })
  t.strictSame(decide(odd, 3, policy, half), { action: 'dead', error: 'gave up after 3 attempts: who knows' })
})

t.test('the jitter comes from the random given: the same input, the same decision', async t => {
  const retry: Undelivered = { status: 'retry', error: 'timeout' }
  t.strictSame(
    decide(retry, 2, policy, () => 0),
    { action: 'retry', error: 'timeout', inMs: 1000 }
  )
  t.strictSame(
    decide(retry, 2, policy, () => 1),
    { action: 'retry', error: 'timeout', inMs: 2000 }
  )
})
