import t from 'tap'
import { renderTerminal } from '../../src/markdown/terminal.js'

// marked decodes numeric references itself: a control character written as one must be caught
// like a raw one, in text, links, code and table cells alike.
t.test('control characters written as references never reach the terminal', async t => {
  const hostile = [
    'clear &#27;[2J title &#x1b;]0;owned&#7; reversed &#x202e;txt',
    '[x&#27;[31m](https://e.x/&#27;[0m) ![a&#x1b;[1m](https://e.x/i.png)',
    '| a&#27;[5m | b |\n|---|---|\n| &#x9b;1m | c |',
    '`&#27;` and \u001b[2J raw'
  ].join('\n\n')
  for (const color of [false, true]) {
    const out = renderTerminal(hostile, color)
    // With colour on, the renderer's own SGR sequences are the only escapes allowed.
    // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
    const stripped = out.replace(/\u001b\[\d+m/g, '')
    // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
    t.notMatch(stripped, /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e]/, `no control left (colour ${color})`)
    t.match(out, /␛\[2J/, 'shown as a symbol')
    t.match(out, /␇/)
  }
  t.match(
    renderTerminal('&amp; &copy; &#x4e2d; `&amp;`'),
    /^& © 中 `&amp;`$/,
    'other references are decoded, not in code'
  )
})
