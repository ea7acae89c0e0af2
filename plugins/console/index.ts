import Type from 'typebox'
import type { RelayMessage } from '../../src/message.js'
import { defineRelay, delivered } from '../../src/relays/types.js'

const Options = Type.Object(
  {
    color: Type.Optional(
      Type.Boolean({ description: 'Colour the output; by default only when stdout is a terminal.' })
    ),
    stream: Type.Enum(['stdout', 'stderr'], { default: 'stdout' })
  },
  { additionalProperties: false }
)

const paint = (on: boolean) => (code: number, text: string) => (on ? `\x1b[${code}m${text}\x1b[0m` : text)

const indent = (text: string, prefix: string) =>
  text
    .split('\n')
    .map(line => prefix + line)
    .join('\n')

/** How a message reads on a terminal: a header line, the text, then each flow output. */
export function renderForTerminal(message: RelayMessage, color = false): string {
  const c = paint(color)
  const who = message.type === 'QUESTION' ? c(36, 'user') : c(32, 'bot')
  const when = new Date(message.createdAt).toISOString()
  const lines = [
    c(2, `── ${message.source}/${message.conversationId} · `) + who + c(2, ` · ${when} · ${message.messageId}`)
  ]
  if (message.text) lines.push(indent(message.text, '  '))
  for (const flow of message.flowOutput) {
    const label = [flow.componentName, flow.branch && `branch ${flow.branch}`].filter(Boolean).join(' · ')
    if (flow.content)
      lines.push(indent(flow.content, '    ').replace(/^ {4}/, `  ↳ ${label ? c(2, `[${label}] `) : ''}`))
    for (const audio of flow.audio) lines.push(`  ♪ ${audio.url}${audio.transcript ? ` — ${audio.transcript}` : ''}`)
  }
  if (lines.length === 1) lines.push(c(2, '  (no content)'))
  return lines.join('\n') + '\n'
}

/** Prints each message readably: the default relay, which needs no chat account. */
export default defineRelay({
  type: 'console',
  options: Options,
  create(options) {
    const out = options.stream === 'stderr' ? process.stderr : process.stdout
    const color = options.color ?? out.isTTY === true
    return {
      async deliver(message) {
        out.write(renderForTerminal(message, color))
        return delivered()
      }
    }
  }
})
