import { createPublicKey, verify, type KeyObject } from 'node:crypto'

/** How old (or how far ahead) a signed timestamp may be: Slack's five minutes, kept for Discord too. */
export const MAX_SKEW_SECONDS = 300

/** Why a request was refused; each has its own reason so a log line says which check failed. */
export type Refusal =
  | 'signature-missing'
  | 'timestamp-missing'
  | 'timestamp-malformed'
  | 'timestamp-stale'
  | 'signature-malformed'
  | 'signature-wrong'

export type Verdict = { ok: true } | { ok: false; reason: Refusal }

const HEX_KEY = /^[0-9a-f]{64}$/i
const HEX_SIGNATURE = /^[0-9a-f]{128}$/i

/** The application's public key (64 hex characters, as the Developer Portal shows it) as a key Node can verify with. */
export function interactionKey(publicKeyHex: string): KeyObject {
  if (!HEX_KEY.test(publicKeyHex)) throw new Error('the public key must be 64 hexadecimal characters')
  // A raw Ed25519 key is the JWK's `x`, base64url-encoded.
  const x = Buffer.from(publicKeyHex, 'hex').toString('base64url')
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x }, format: 'jwk' })
}

export interface SignedRequest {
  /** `X-Signature-Ed25519`: 128 hex characters. */
  signature: string | undefined
  /** `X-Signature-Timestamp`: Unix seconds, as a decimal string. */
  timestamp: string | undefined
  /** The body exactly as received. */
  rawBody: Buffer
}

/**
 * Checks an interaction as Discord signs it: Ed25519 over the timestamp's text followed by the raw
 * body, with the application's public key. A pure function: the clock comes in as `nowMs`.
 */
export function verifyInteraction(
  request: SignedRequest,
  key: KeyObject,
  nowMs: number,
  maxSkewSeconds = MAX_SKEW_SECONDS
): Verdict {
  const { signature, timestamp, rawBody } = request
  if (!signature) return { ok: false, reason: 'signature-missing' }
  if (!timestamp) return { ok: false, reason: 'timestamp-missing' }
  if (!/^[0-9]{1,12}$/.test(timestamp)) return { ok: false, reason: 'timestamp-malformed' }
  if (Math.abs(nowMs / 1000 - Number(timestamp)) > maxSkewSeconds) return { ok: false, reason: 'timestamp-stale' }
  // A signature of the wrong length or alphabet never reaches the verifier.
  if (!HEX_SIGNATURE.test(signature)) return { ok: false, reason: 'signature-malformed' }
  const signed = Buffer.concat([Buffer.from(timestamp, 'utf8'), rawBody])
  return verify(null, signed, key, Buffer.from(signature, 'hex'))
    ? { ok: true }
    : { ok: false, reason: 'signature-wrong' }
}

/** What each refusal tells the sender (the 401's `msg`). */
export const refusalMessage: Record<Refusal, string> = {
  'signature-missing': 'missing X-Signature-Ed25519: interactions must be signed by Discord',
  'timestamp-missing': 'missing X-Signature-Timestamp: interactions must be signed by Discord',
  'timestamp-malformed': 'X-Signature-Timestamp must be Unix seconds',
  'timestamp-stale': `X-Signature-Timestamp is more than ${MAX_SKEW_SECONDS / 60} minutes away from this host's clock`,
  'signature-malformed': 'X-Signature-Ed25519 must be 128 hexadecimal characters',
  'signature-wrong': "the signature does not match the application's public key"
}
