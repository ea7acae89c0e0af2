import { createHash } from 'node:crypto'
import type { RelayMessage } from '../../src/message.js'

export const NONCE_LIMIT = 25

/**
 * The nonce of one part: the same on every retry, so Discord (with `enforce_nonce`) returns the
 * message it already created instead of posting it twice. The relay and the target are part of
 * it so that two relays, or a thread recreated after deletion, never share a nonce.
 */
export function nonceFor(relay: string, target: string, message: RelayMessage, part: number): string {
  const key = [relay, target, message.source, message.messageId, message.type, String(part)].join('\u0000')
  return createHash('sha256').update(key).digest('hex').slice(0, NONCE_LIMIT)
}
