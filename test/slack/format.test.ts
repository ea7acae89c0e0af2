import t from 'tap'
import {
  escapeMrkdwn,
  fallbackText,
  messageMarkdown,
  neutraliseMentions,
  safeMarkdown,
  threadTitle,
  truncate
} from '../../plugins/slack/format.js'
import { relayMessage } from '../fakes/slack.js'

const joiner = '\u2060'
const visible = (text: string) => text.replaceAll(joiner, '')
const mentions = [
  '<!channel>',
  '<!here>',
  '<!everyone>',
  '<!here|here>',
  '<!subteam^S0123|@support>',
  '<@U0123ABC>',
  '<#C0123456>'
]

t.test('mentions and broadcasts can no longer be parsed, but read the same', async t => {
  for (const mention of mentions) {
    const safe = neutraliseMentions(`hey ${mention} look`)
    t.notOk(safe.includes(mention), `${mention} is broken up`)
    t.equal(visible(safe), `hey ${mention} look`, `${mention} still reads the same`)
  }
  for (const word of ['@channel', '@here', '@everyone', '@Here']) {
    t.notOk(neutraliseMentions(`ping ${word}!`).includes(word), `${word} is broken up`)
  }
  t.notOk(neutraliseMentions('&lt;!channel&gt;').includes('&lt;!channel'), 'the entity form too')
  t.equal(
    neutraliseMentions('<!DOCTYPE html> <!-- x --> a@here.com'),
    '<!DOCTYPE html> <!-- x --> a@here.com',
    'HTML and e-mail addresses are left alone'
  )
})

t.test('mrkdwn escaping turns &, < and > into entities', async t => {
  t.equal(escapeMrkdwn('Tom & Jerry <b>x</b> a<b'), 'Tom &amp; Jerry &lt;b&gt;x&lt;/b&gt; a&lt;b')
})

t.test('Markdown from the bot keeps its formatting, while < and decoded entities show as written', async t => {
  t.equal(safeMarkdown('**bold** and [link](https://x.io)\n- item'), '**bold** and [link](https://x.io)\n- item')
  t.equal(safeMarkdown('if a < b & c > d'), 'if a \\< b & c > d', 'a bare & needs nothing')
  t.equal(safeMarkdown('use <div> and &amp;'), 'use \\<div> and &', 'an entity is the character it stands for')
  t.equal(safeMarkdown('&amp;amp; &#60;b&#62;'), '\\&amp; \\<b>', 'and what it decodes to shows as itself')
  t.equal(safeMarkdown('see <https://example.com/a?b=1>'), 'see <https://example.com/a?b=1>', 'autolinks stay')
  t.equal(safeMarkdown('already \\< escaped'), 'already \\< escaped')
  t.equal(safeMarkdown('code `a < b && &amp;` span'), 'code `a < b && &amp;` span', 'code spans are literal')
  t.equal(safeMarkdown('``a ` <b``'), '``a ` <b``', 'a longer backtick run holds a shorter one')
  t.equal(safeMarkdown('lone ` tick <x>'), 'lone ` tick \\<x>', 'an unmatched backtick is no code span')
  const fenced = '```html\n<p>&amp;</p>\n```\nafter <p>'
  t.equal(safeMarkdown(fenced), '```html\n<p>&amp;</p>\n```\nafter \\<p>', 'fenced code is literal')
  t.equal(visible(safeMarkdown('```\n<!here>\n```')), '```\n<!here>\n```')
  t.notOk(safeMarkdown('```\n<!here>\n```').includes('<!here>'), 'mentions are broken even in code')
})

t.test('text, then each flow output under a compact label', async t => {
  const message = relayMessage({
    text: 'The answer',
    flowOutput: [
      { componentName: 'User Input', branch: '1', content: 'First', audio: [] },
      { componentName: 'LLM*Step', content: 'Second', audio: [] },
      { branch: '2', content: '   ', audio: [] }
    ]
  })
  t.equal(messageMarkdown(message, 'shown'), 'The answer\n\n_User Input · branch 1_\n\nFirst\n\n_LLM\\*Step_\n\nSecond')
  t.equal(messageMarkdown(message, 'hidden'), 'The answer')
  t.equal(messageMarkdown(message, 'whenNoText'), 'The answer')
  t.equal(
    messageMarkdown({ ...message, text: undefined }, 'whenNoText'),
    '_User Input · branch 1_\n\nFirst\n\n_LLM\\*Step_\n\nSecond'
  )
  t.equal(messageMarkdown({ ...message, text: '', flowOutput: [] }, 'shown'), '')
})

t.test('audio shows as a link with its transcript quoted', async t => {
  const message = relayMessage({
    text: undefined,
    format: 'v2',
    flowOutput: [
      {
        componentName: 'Voice',
        audio: [
          { url: 'https://cdn.example/a b(1).mp3', transcript: 'Hello <@U1>\nsecond line' },
          { url: 'ftp://odd/link' }
        ]
      }
    ]
  })
  t.equal(
    messageMarkdown(message, 'shown'),
    [
      '_Voice_',
      '🔊 [Audio](https://cdn.example/a%20b%281%29.mp3)\n> Hello \\<' + joiner + '@U1\\>\n> second line',
      '🔊 Audio: ftp://odd/link'
    ].join('\n\n')
  )
})

t.test('the text fallback is escaped mrkdwn within its limit', async t => {
  // Since #14 the fallback is made from the post's plain text, not from its Markdown.
  t.equal(fallbackText('Tom & Jerry <b>', 100), 'Tom &amp; Jerry &lt;b&gt;')
  const long = fallbackText('a&'.repeat(2000), 3000)
  t.ok(long.length <= 3000)
  t.match(long, /(a|&amp;)…$/, 'no entity is cut in half')
  t.equal(truncate('x'.repeat(10), 10), 'x'.repeat(10))
  t.equal(truncate('x'.repeat(9) + '😀', 10), 'x'.repeat(9) + '…', 'no surrogate pair is cut in half')
})

t.test('the thread title names the conversation, escaped', async t => {
  const message = relayMessage({ conversationId: 'c<1>&', source: 'shop' })
  t.equal(threadTitle('Conversation {conversationId} from {source}', message), 'Conversation c&lt;1&gt;&amp; from shop')
})
