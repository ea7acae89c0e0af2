import type { PrettyOptions } from 'pino-pretty'

/**
 * Fields that say where a line belongs (which relay, conversation and message, which attempt):
 * the pretty output folds them into the message itself, so that each line is one terminal line
 * and a relay printing to the same terminal (console) is not buried under field blocks. JSON lines
 * keep every field as it is.
 */
const folded = [
  'relay',
  'source',
  'conversationId',
  'messageId',
  'type',
  'relays',
  'attempt',
  'retryInMs',
  'error',
  'posted',
  'reqId',
  'component',
  'pid',
  'hostname'
]

const text = (value: unknown): string | undefined =>
  typeof value === 'string' || typeof value === 'number' ? String(value) : undefined

/** One line: the message, then where it belongs, then the error it reports. */
export function prettyMessage(log: Record<string, unknown>, messageKey: string): string {
  const message = text(log[messageKey]) ?? ''
  const where: string[] = []
  const relay = text(log.relay)
  // "relay "x" is held: ..." names it already.
  if (relay && !message.includes(`"${relay}"`)) where.push(relay)
  const conversation = text(log.conversationId)
  const source = text(log.source)
  if (conversation)
    where.push(
      [source && source !== 'default' ? source : undefined, conversation, text(log.messageId)].filter(Boolean).join('/')
    )
  if (log.type === 'ANSWER' || log.type === 'QUESTION') where.push(log.type)
  if (typeof log.attempt === 'number' && log.attempt > 1) where.push(`attempt ${log.attempt}`)
  if (typeof log.retryInMs === 'number') where.push(`again in ${(log.retryInMs / 1000).toFixed(1)} s`)
  let line = where.length > 0 ? `${message} · ${where.join(' · ')}` : message
  if (Array.isArray(log.relays) && log.relays.length > 0) line += ` → ${log.relays.join(', ')}`
  const error = text(log.error)
  if (error && !message.includes(error)) line += `: ${error}`
  return line
}

/** pino-pretty's settings for the relay's terminal output: one line per entry (an error's stack aside). */
export function prettyOptions(colorize: boolean): PrettyOptions {
  return {
    colorize,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: folded.join(','),
    singleLine: true,
    messageFormat: prettyMessage
  }
}
