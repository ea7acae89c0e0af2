import { createHmac, timingSafeEqual } from 'node:crypto'

export type SignatureCheck = { ok: true } | { ok: false; reason: 'missing' | 'stale' | 'mismatch' }

/** Slack refuses requests older than this, and so does the relay. */
export const maxSkewSeconds = 5 * 60

/**
 * Slack's request signature: `v0=` + hex HMAC-SHA256 of `v0:{timestamp}:{raw body}` with the
 * signing secret. Pure, with the time passed in; compared in constant time after the lengths.
 */
export function verifySlackSignature(input: {
  signingSecret: string
  timestamp: string | undefined
  signature: string | undefined
  rawBody: Buffer
  nowMs: number
}): SignatureCheck {
  const { timestamp, signature } = input
  if (!timestamp || !signature) return { ok: false, reason: 'missing' }
  if (!/^\d{1,12}$/.test(timestamp)) return { ok: false, reason: 'mismatch' }
  if (Math.abs(input.nowMs / 1000 - Number(timestamp)) > maxSkewSeconds) return { ok: false, reason: 'stale' }
  const expected = Buffer.from(
    `v0=${createHmac('sha256', input.signingSecret).update(`v0:${timestamp}:`).update(input.rawBody).digest('hex')}`
  )
  const given = Buffer.from(signature)
  if (given.length !== expected.length) return { ok: false, reason: 'mismatch' }
  return timingSafeEqual(given, expected) ? { ok: true } : { ok: false, reason: 'mismatch' }
}

/** Signs a body as Slack does (tests and the bench post events with it). */
export function slackSignature(signingSecret: string, timestamp: number, rawBody: string | Buffer): string {
  return `v0=${createHmac('sha256', signingSecret).update(`v0:${timestamp}:`).update(rawBody).digest('hex')}`
}
