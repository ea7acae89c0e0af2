import type { RelayMessage } from '../message.js'

/**
 * The latest time a message may carry: the last millisecond of the year 9999. Every date up to it
 * is a plain ISO-8601 date (four-digit year) that every relay, log and receiver can show.
 */
export const LATEST_TIME_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999)

/** A UTF-16 half without its other half: no UTF-8 encoding exists for it, so stores and relays disagree about it. */
const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/
const loneSurrogates = new RegExp(loneSurrogate.source, 'g')
/** C0 and C1 control characters and DEL: in an id they can only forge log or terminal lines. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the point.
const controlCharacter = /[\u0000-\u001F\u007F-\u009F]/

/**
 * Why an id cannot be taken, or undefined. Ids must be the same text in every store and every
 * relay: a lone surrogate is stored as U+FFFD by PostgreSQL (two distinct ids become one) and
 * breaks URL encoding (Slack, the admin API).
 */
export function idProblem(value: string): string | undefined {
  if (loneSurrogate.test(value))
    return 'must not contain lone UTF-16 surrogates (\\ud800 to \\udfff without their pair)'
  if (controlCharacter.test(value))
    return 'must not contain control characters (\\u0000 to \\u001f, \\u007f to \\u009f)'
  return undefined
}

/** Why a message's creation time cannot be taken, or undefined. */
export function timeProblem(createdAt: number): string | undefined {
  if (createdAt <= LATEST_TIME_MS) return undefined
  return `must be a time before the year 10000: at most ${Math.floor(LATEST_TIME_MS / 1000)} (seconds) or ${LATEST_TIME_MS} (milliseconds)`
}

/** Text with every lone surrogate replaced by U+FFFD, which is what PostgreSQL would keep anyway. */
export function wellFormed(text: string): string
export function wellFormed(text: string | undefined): string | undefined
export function wellFormed(text: string | undefined): string | undefined {
  return text === undefined || !loneSurrogate.test(text) ? text : text.replace(loneSurrogates, '\uFFFD')
}

/**
 * The value with every string in it well-formed (the message's free text: ids were checked). The
 * same value, not a copy, when nothing needed fixing, as is almost always the case: it runs on
 * every accepted message.
 */
export function withWellFormedText<T>(value: T): T {
  if (typeof value === 'string') return wellFormed(value) as T
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined
    for (const [i, item] of value.entries()) {
      const fixed = withWellFormedText(item)
      if (fixed !== item) (copy ??= [...value])[i] = fixed
    }
    return (copy ?? value) as T
  }
  if (value !== null && typeof value === 'object') {
    let copy: Record<string, unknown> | undefined
    for (const [key, item] of Object.entries(value)) {
      const fixed = withWellFormedText(item)
      if (fixed !== item) (copy ??= { ...(value as Record<string, unknown>) })[key] = fixed
    }
    return (copy ?? value) as T
  }
  return value
}

/**
 * What must be refused in a message that passed the schema, one sentence per field, for a 400
 * that names each: ids that cannot be kept or sent as they are, a time no date can show.
 */
export function deliverabilityProblems(message: RelayMessage): string[] {
  const problems: string[] = []
  for (const [field, value] of [
    ['message_id', message.messageId],
    ['conversation_id', message.conversationId]
  ] as const) {
    const problem = idProblem(value)
    if (problem) problems.push(`body/${field} ${problem}`)
  }
  const time = timeProblem(message.createdAt)
  if (time) problems.push(`body/create_time ${time}`)
  return problems
}
