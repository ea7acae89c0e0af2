import t from 'tap'
import Value from 'typebox/value'
import { embedChars, EmbedLimit, packEmbeds } from '../../plugins/discord/embeds.js'
import { partsOf, type Look } from '../../plugins/discord/format.js'
import { nonceFor } from '../../plugins/discord/nonce.js'
import { DiscordOptions } from '../../plugins/discord/options.js'
import { snowflakeTime, threadName } from '../../plugins/discord/threads.js'
import { relayMessage } from '../helpers/relay.js'

const look: Look = {
  labelRole: true,
  markConversation: false,
  names: { ANSWER: 'GPTBots', QUESTION: 'User' },
  colors: { ANSWER: 0x5865f2, QUESTION: 0x99aab5 }
}

t.test('questions and answers differ in label and colour', async t => {
  const flow = [{ componentName: 'LLM', content: 'flow text', audio: [] }]
  const [question] = partsOf(relayMessage({ type: 'QUESTION', text: 'q', flowOutput: flow }), look)
  const [answer] = partsOf(relayMessage({ type: 'ANSWER', text: 'a', flowOutput: flow }), look)
  t.equal(question!.content, '**👤 User**\nq')
  t.equal(answer!.content, '**🤖 GPTBots**\na')
  t.equal(question!.embeds![0]!.color, 0x99aab5)
  t.equal(answer!.embeds![0]!.color, 0x5865f2)
  t.equal(
    partsOf(relayMessage({ text: 'x' }), { ...look, names: { ANSWER: 'A*b_c', QUESTION: 'U' } })[0]!.content,
    '**🤖 A\\*b\\_c**\nx',
    'names cannot break the markdown'
  )
})

t.test('with a webhook the text carries no label; channel mode still marks the conversation', async t => {
  const hookLook = { ...look, labelRole: false }
  t.same(partsOf(relayMessage({ text: 'plain' }), hookLook), [{ content: 'plain' }])
  const [part] = partsOf(relayMessage({ conversationId: 'c9', flowOutput: [{ content: 'only flow', audio: [] }] }), {
    ...hookLook,
    markConversation: true
  })
  t.equal(part!.content, '-# conversation `c9`')
})

t.test(
  'many flow outputs are packed within 10 embeds and 6,000 characters per message, nothing dropped, in order',
  async t => {
    const flowOutput = Array.from({ length: 37 }, (_, i) => ({
      componentName: `Step ${i}`,
      branch: String(i),
      content: `output ${i} `.repeat(10 + ((i * 53) % 400)),
      audio: []
    }))
    const parts = partsOf(relayMessage({ text: 'intro', flowOutput }), look)
    t.ok(parts.length > 1)
    for (const part of parts) {
      t.ok(part.embeds!.length <= EmbedLimit.perMessage)
      t.ok(part.embeds!.reduce((n, e) => n + embedChars(e), 0) <= EmbedLimit.perMessageChars)
    }
    t.equal(parts[0]!.content, '**🤖 GPTBots**\nintro', 'the first batch rides on the text')
    t.ok(
      parts.slice(1).every(p => p.content === undefined),
      'in a thread later batches need no label'
    )
    const titles = parts.flatMap(p => p.embeds!.map(e => e.title)).filter(Boolean)
    t.same(
      titles,
      flowOutput.map(f => f.componentName)
    )
    // Since #14 the text is written again from its tree, so trailing spaces are gone: compare the words.
    const text = parts
      .flatMap(p => p.embeds!.map(e => e.description))
      .join(' ')
      .replace(/\s+/g, ' ')
    for (const entry of flowOutput) t.equal(text.split(entry.content.trim()).length, 2, `${entry.componentName} once`)
  }
)

t.test('packEmbeds starts a new message at 10 embeds or at 6,000 characters', async t => {
  const small = Array.from({ length: 23 }, () => ({ description: 'x' }))
  t.same(
    packEmbeds(small).map(b => b.length),
    [10, 10, 3]
  )
  const big = Array.from({ length: 4 }, () => ({ description: 'y'.repeat(2500) }))
  t.same(
    packEmbeds(big).map(b => b.length),
    [2, 2]
  )
})

t.test('audio: a link with its transcript; a URL that is not http stays visible', async t => {
  const [part] = partsOf(
    relayMessage({
      flowOutput: [
        { audio: [{ url: 'https://x.example/a.mp3', transcript: 'hello\nworld' }, { url: 'ftp://odd/b.mp3' }] }
      ]
    }),
    look
  )
  t.equal(
    part!.embeds![0]!.description,
    '🔊 [Audio 1](https://x.example/a.mp3)\n> hello\n> world\n\n🔊 Audio 2: `ftp://odd/b.mp3`'
  )
})

t.test('nonces: deterministic, at most 25 characters, different per part, target, relay and message type', async t => {
  const message = relayMessage({ messageId: 'm1' })
  const base = nonceFor('discord.a', '111', message, 0)
  t.equal(base.length, 25)
  t.equal(nonceFor('discord.a', '111', message, 0), base)
  const others = [
    nonceFor('discord.a', '111', message, 1),
    nonceFor('discord.a', '222', message, 0),
    nonceFor('discord.b', '111', message, 0),
    nonceFor('discord.a', '111', { ...message, type: 'QUESTION' }, 0),
    nonceFor('discord.a', '111', { ...message, source: 'other' }, 0)
  ]
  t.equal(new Set([base, ...others]).size, 6)
})

t.test('thread names are never empty and never over 100 characters', async t => {
  t.equal(threadName('GPTBots {conversationId}', relayMessage({ conversationId: 'abc' })), 'GPTBots abc')
  t.equal(threadName('{preview}', relayMessage({ conversationId: 'abc', text: '   ' })), 'Conversation abc')
  t.equal(
    threadName('{source}: {preview}', relayMessage({ source: 'shop', text: 'Where\nis my\norder?' })),
    'shop: Where is my order?'
  )
  t.equal(threadName('{conversationId}', relayMessage({ conversationId: '😀'.repeat(80) })).length <= 100, true)
})

t.test('the example config of the issue is valid options', async t => {
  const { type: _type, ...options } = {
    type: 'discord',
    token: '...',
    channel: '112233445566778899',
    mode: 'thread',
    apiUrl: 'https://discord.com/api'
  }
  t.ok(Value.Check(DiscordOptions, options))
  t.notOk(Value.Check(DiscordOptions, { ...options, mode: 'dm' }))
  t.notOk(Value.Check(DiscordOptions, { ...options, chanel: '1' }), 'a misspelt option is refused')
  t.same(Value.Default(DiscordOptions, { token: 't', channel: '112233445566778899' }), {
    token: 't',
    channel: '112233445566778899',
    mode: 'thread',
    apiUrl: 'https://discord.com/api',
    threadName: 'GPTBots {conversationId}',
    botName: 'GPTBots',
    userName: 'User',
    botColor: 0x5865f2,
    userColor: 0x99aab5,
    maxRateLimitWaitMs: 5000,
    requestTimeoutMs: 15000
  })
})

t.test("embedChars counts what Discord counts towards a message's 6,000 characters", async t => {
  t.equal(embedChars({}), 0)
  const embed = {
    title: 'ab',
    description: 'cde',
    color: 0x5865f2,
    fields: [
      { name: 'f', value: 'gh' },
      { name: 'ij', value: 'k', inline: true }
    ],
    footer: { text: 'lmno', icon_url: 'https://example.com/icon.png' },
    author: { name: 'pqrst', url: 'https://example.com/' }
  }
  t.equal(
    embedChars(embed),
    2 + 3 + (1 + 2) + (2 + 1) + 4 + 5,
    'title, description, fields, footer and author; never urls or colour'
  )
})

t.test("snowflakeTime reads when Discord made an id (Discord's own example)", async t => {
  t.equal(snowflakeTime('175928847299117063'), Date.UTC(2016, 3, 30, 11, 18, 25, 796))
  t.equal(snowflakeTime('0'), Date.UTC(2015, 0, 1), "Discord's epoch")
})
