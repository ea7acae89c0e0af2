import type { RelayMessage } from '../../src/message.js'
import type { ConversationState, DeliveryContext, RelayLogger } from '../../src/relays/types.js'

// Driving a relay as the core would, without the core: shared by the Slack and Discord tests
// (and any custom relay's tests), so each fake keeps only what is about its platform.

export interface LogLine {
  level: 'debug' | 'info' | 'warn' | 'error'
  obj: object | string
  msg?: string
}

/** A logger that keeps what it was told, for "logged once" assertions. */
export function recordingLogger(): RelayLogger & { lines: LogLine[]; errors(): LogLine[]; warnings(): LogLine[] } {
  const lines: LogLine[] = []
  const at = (level: LogLine['level']) => (obj: object | string, msg?: string) => {
    lines.push({ level, obj, msg })
  }
  return {
    lines,
    errors: () => lines.filter(line => line.level === 'error'),
    warnings: () => lines.filter(line => line.level === 'warn'),
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error')
  }
}

let messageCount = 0

/** A RelayMessage as the core hands it to a relay; each gets a new message id. */
export function relayMessage(fields: Partial<RelayMessage> = {}): RelayMessage {
  messageCount++
  return {
    source: 'default',
    messageId: `msg-${messageCount}`,
    conversationId: 'conv-1',
    type: 'ANSWER',
    flowOutput: [],
    createdAt: Date.now(),
    receivedAt: Date.now(),
    format: 'v1',
    ...fields
  }
}

/** A delivery context around one conversation's state: first attempt, never aborted, a recording logger unless told. */
export function deliveryContext(
  state: ConversationState,
  {
    attempt = 1,
    signal = new AbortController().signal,
    logger = recordingLogger()
  }: Partial<Omit<DeliveryContext, 'state'>> = {}
): DeliveryContext {
  return { state, attempt, signal, logger }
}
