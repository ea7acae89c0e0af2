import { createHmac, timingSafeEqual } from 'node:crypto'

/**
 * The signature scheme, shared by the sender and by receivers that verify it: HMAC-SHA256 of
 * `<unix seconds>.<raw body>`, hex, sent as `sha256=<hex>` next to the timestamp. Signing the
 * timestamp lets a receiver refuse old requests replayed by someone who captured them.
 */
export function sign(secret: string, timestamp: number, body: string): string {
  return 'sha256=' + createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')
}

export type Verdict = { ok: true } | { ok: false; reason: 'missing' | 'stale' | 'mismatch' }

/** Checks a request as a receiver would, with the clock passed in. */
export function verify(
  secret: string,
  signature: string | undefined,
  timestamp: string | undefined,
  body: string,
  nowSeconds: number,
  toleranceSeconds = 300
): Verdict {
  if (!signature || !timestamp || !/^\d+$/.test(timestamp)) return { ok: false, reason: 'missing' }
  if (Math.abs(nowSeconds - Number(timestamp)) > toleranceSeconds) return { ok: false, reason: 'stale' }
  const expected = Buffer.from(sign(secret, Number(timestamp), body))
  const given = Buffer.from(signature)
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return { ok: false, reason: 'mismatch' }
  return { ok: true }
}
