import Type from 'typebox'
import { renderTerminal, terminalSafe } from '../../src/markdown/terminal.js'
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

/**
 * How a message reads on a terminal: a header line, the text rendered from its Markdown, then
 * each flow output. Every field from outside is made terminal-safe: control sequences in an end
 * user's text show as symbols, and a line break in an id cannot forge a header line.
 */
export function renderForTerminal(message: RelayMessage, color = false): string {
  const c = paint(color)
  const field = (text: string) => terminalSafe(text)
  const who = message.type === 'QUESTION' ? c(36, 'user') : c(32, 'bot')
  const when = new Date(message.createdAt).toISOString()
  const lines = [
    c(2, `── ${field(message.source)}/${field(message.conversationId)} · `) +
      who +
      c(2, ` · ${when} · ${field(message.messageId)}`)
  ]
  if (message.text?.trim()) lines.push(indent(renderTerminal(message.text, color), '  '))
  for (const flow of message.flowOutput) {
    const label = [flow.componentName, flow.branch && `branch ${flow.branch}`]
      .filter(Boolean)
      .map(l => field(String(l)))
      .join(' · ')
    if (flow.content?.trim())
      lines.push(
        indent(renderTerminal(flow.content, color), '    ').replace(/^ {4}/, `  ↳ ${label ? c(2, `[${label}] `) : ''}`)
      )
    for (const audio of flow.audio)
      lines.push(`  ♪ ${field(audio.url)}${audio.transcript ? ` — ${terminalSafe(audio.transcript)}` : ''}`)
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
