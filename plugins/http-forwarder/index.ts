import Type from 'typebox'
import type { RelayMessage } from '../../src/message.js'
import { parseRetryAfter } from '../../src/relays/retry-after.js'
import { defineRelay, delivered, failed, retry, type DeliveryOutcome } from '../../src/relays/types.js'
import { sign } from './signature.js'

const Options = Type.Object(
  {
    url: Type.String({
      pattern: '^https?://',
      patternErrorMessage: 'must be a URL starting with https:// (or http://)',
      description: 'Where each message is POSTed as JSON.'
    }),
    secret: Type.String({
      minLength: 16,
      description: 'Shared secret for the HMAC-SHA256 signature; use ${ENV} or ${file:...}.'
    }),
    headers: Type.Record(Type.String(), Type.String(), {
      default: {},
      description: 'Extra request headers, such as an API key of the receiver.'
    }),
    timeoutMs: Type.Integer({
      minimum: 100,
      default: 10000,
      description: 'A request slower than this is abandoned and retried.'
    })
  },
  { additionalProperties: false }
)

/** Statuses worth retrying: the receiver is busy, starting or broken for now, not refusing. */
const transient = new Set([408, 425, 429, 500, 502, 503, 504])

/**
 * A header value can hold only bytes up to 0xFF (fetch refuses anything else), and GPTBots ids
 * may be any text: every byte outside printable ASCII, and `%` itself, is %-escaped (UTF-8, as in
 * URLs). Ids of plain ASCII, the usual kind, are sent unchanged.
 */
export function headerSafe(text: string): string {
  let out = ''
  for (const byte of Buffer.from(text, 'utf8')) {
    out +=
      byte > 0x20 && byte < 0x7f && byte !== 0x25
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`
  }
  return out
}

/** The same for every attempt at one message, and unique per source, type and message. */
export const idempotencyKey = (message: RelayMessage) =>
  `${headerSafe(message.source)}:${message.type}:${headerSafe(message.messageId)}`

/**
 * Forwards every message to an HTTP endpoint of yours, as JSON, signed so that the receiver can
 * tell it came from this relay. Each request carries an idempotency key: the same message
 * retried has the same key, so a receiver can drop repeats.
 */
export default defineRelay({
  type: 'http-forwarder',
  options: Options,
  create(options, init) {
    return {
      async deliver(message, context): Promise<DeliveryOutcome> {
        const body = JSON.stringify(message)
        const timestamp = Math.floor(init.clock.now() / 1000)
        let response: Response
        try {
          response = await fetch(options.url, {
            method: 'POST',
            headers: {
              ...options.headers,
              'content-type': 'application/json',
              'user-agent': 'gptbots-relay http-forwarder',
              'x-relay-timestamp': String(timestamp),
              'x-relay-signature': sign(options.secret, timestamp, body),
              'idempotency-key': idempotencyKey(message),
              'x-relay-attempt': String(context.attempt)
            },
            body,
            signal: AbortSignal.any([context.signal, AbortSignal.timeout(options.timeoutMs)])
          })
        } catch (error) {
          const reason =
            (error as Error).name === 'TimeoutError'
              ? `no answer from ${options.url} within ${options.timeoutMs} ms`
              : `cannot reach ${options.url}: ${(error as Error).message}${(error as Error).cause ? ` (${((error as Error).cause as Error).message})` : ''}`
          return retry(reason)
        }
        const text = (await response.text().catch(() => '')).slice(0, 300)
        if (response.ok) return delivered({ status: response.status })
        const what = `${options.url} answered HTTP ${response.status}${text ? `: ${text}` : ''}`
        if (transient.has(response.status))
          return retry(what, parseRetryAfter(response.headers.get('retry-after'), init.clock.now()))
        init.logger.error(
          { status: response.status },
          `${what}; the message is dead-lettered (check the URL, the receiver's auth and what it accepts)`
        )
        return failed(what)
      }
    }
  }
})

export { sign, verify } from './signature.js'
