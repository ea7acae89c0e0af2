import t from 'tap'
import { renderForTerminal } from '../../plugins/console/index.js'
import type { RelayMessage } from '../../src/message.js'

const message = (overrides: Partial<RelayMessage>): RelayMessage => ({
  source: 'default',
  messageId: 'm1',
  conversationId: 'c1',
  type: 'QUESTION',
  text: 'hello',
  flowOutput: [],
  createdAt: 1_700_000_000_000,
  receivedAt: 1_700_000_000_100,
  format: 'v1',
  ...overrides
})

// Whatever an end user sends, no byte that a terminal acts on may reach it: ESC starts CSI/OSC
// sequences (clear, retitle), BEL ends OSC, CR rewrites the line, C1 CSI is ESC [ in one byte.
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const control = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/

t.test('an end user cannot clear or retitle the terminal', async t => {
  for (const text of ['\u001b[2J\u001b[H', '\u001b]0;pwned\u0007', 'a\rb', '\u009b2J', 'x\u202etxt.exe']) {
    const out = renderForTerminal(message({ text }), false)
    t.notMatch(out, control, `${JSON.stringify(text)} reaches the terminal as symbols only`)
    t.notMatch(out, /\u202e/, 'no bidi override')
  }
  t.match(renderForTerminal(message({ text: '\u001b[2J' })), '␛[2J', 'shown, not swallowed')
})

t.test('a line break in a conversation id cannot forge a header line', async t => {
  const out = renderForTerminal(message({ conversationId: 'c1\n── default/evil · bot', text: 'hi' }))
  t.equal(out.split('\n').filter(line => line.startsWith('──')).length, 1, 'one header line')
  t.match(out, 'c1␊── default/evil')
})

t.test('every printed field is safe: source, message id, flow labels, audio', async t => {
  const out = renderForTerminal(
    message({
      source: 's\u001b[31m',
      messageId: 'id\u0007',
      text: undefined,
      flowOutput: [
        {
          componentName: 'LLM\u001b]0;x\u0007',
          branch: '1\r',
          content: 'flow \u001b[2J text',
          audio: [{ url: 'https://a\u001b[1m', transcript: 'said\u001b[2J' }]
        }
      ]
    }),
    true
  )
  // Colour on: the relay's own SGR sequences are the only escapes left.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
  t.notMatch(out.replace(/\u001b\[\d+m/g, ''), control)
})

t.test('Markdown reads well on a terminal', async t => {
  const out = renderForTerminal(
    message({
      text: '## 价格\n\n| Plan | 价格 |\n|---|--:|\n| 基本 | 10 |\n\n- [x] done\n- [ ] todo\n\n[docs](https://x.io/a_b)'
    })
  )
  t.match(out, '  ## 价格')
  t.match(out, '  Plan │ 价格\n  ─────┼─────\n  基本 │   10')
  t.match(out, '  - ☑ done\n  - ☐ todo')
  t.match(out, 'docs (https://x.io/a_b)')
})
