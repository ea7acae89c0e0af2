import { systemClock } from '../../src/clock.js'
import t from 'tap'
import plugin from '../../plugins/discord/index.js'
import { memoryState } from '../helpers/memory-state.js'
import { ChannelType, FakeDiscord } from '../fakes/discord.js'
import { deliveryContext, recordingLogger, relayMessage } from '../helpers/relay.js'
import { deliverOne } from '../../src/relays/run-adapter.js'

const fake = await new FakeDiscord().start()
t.teardown(() => fake.close())

const relayFor = async (channel: string) =>
  plugin.create(
    { token: fake.token, channel, apiUrl: fake.api },
    { name: 'discord.long', logger: recordingLogger(), configDir: '.', clock: systemClock }
  )

const code = Array.from(
  { length: 150 },
  (_, i) => `    result_${i} = compute(value_${i}, factor=${i})  # step ${i}`
).join('\n')
const answer = [
  'Here is the full script you asked for. '.repeat(20),
  '```python\nimport math\n\ndef compute(value, factor):\n    return math.sqrt(value) * factor\n\ndef main():\n' +
    code +
    '\n```',
  'Run it with `python script.py`. '.repeat(30)
].join('\n\n')

/** The fence open at the end of a text, per CommonMark, or undefined when all are closed. */
function openFence(text: string): string | undefined {
  let open: string | undefined
  for (const line of text.split('\n')) {
    const m = /^ {0,3}(`{3,}|~{3,})(.*)$/.exec(line)
    if (!m) continue
    if (open === undefined) open = m[1]! + m[2]!.trim()
    else if (m[1]![0] === open[0] && m[2]!.trim() === '') open = undefined
  }
  return open
}

t.test(
  'a long answer with a code block is split into parts the strict fake accepts, in order, fences balanced',
  async t => {
    t.ok(answer.length > 6000, `the answer is ${answer.length} characters`)
    const channel = fake.addChannel(ChannelType.Text)
    const relay = await relayFor(channel.id)
    const outcome = await deliverOne(relay, relayMessage({ text: answer }), deliveryContext(memoryState()))
    t.equal(outcome.status, 'delivered')
    const parts = fake.messagesIn(fake.threadsOf(channel.id)[0]!.id).map(m => m.content!)
    t.ok(parts.length >= 4, `${parts.length} parts`)
    t.ok(
      parts.every(p => p.length <= 2000),
      'each within 2,000 characters'
    )
    t.ok(
      parts.every(p => openFence(p) === undefined),
      'each part closes every code block it opens'
    )
    t.ok(parts[0]!.startsWith('**🤖 GPTBots**\n'), 'the first part says who speaks')
    const inCode = parts.slice(1).filter(p => p.startsWith('```python\n'))
    t.ok(inCode.length >= 2, 'parts that continue the code block reopen it as python')

    // Since #14 the parts are written again from the parsed answer, not cut from its bytes: every
    // word of the answer must come back, in order, with only the label and fence lines added.
    const label = '**🤖 GPTBots**\n'
    const words = (text: string) =>
      text
        .split('\n')
        .filter(line => !/^ {0,3}(`{3,}|~{3,})/.test(line))
        .join('\n')
        .split(/\s+/)
        .filter(Boolean)
    t.same(words(parts.map((part, i) => (i === 0 ? part.slice(label.length) : part)).join('\n')), words(answer))
    t.equal(parts.join('').split('compute(value_149').length, 2, 'the last line of code appears exactly once')
  }
)

t.test('a long flow output becomes embeds within every embed limit', async t => {
  const channel = fake.addChannel(ChannelType.Text)
  const relay = await relayFor(channel.id)
  const longText = ('Paragraph of flow output. '.repeat(40) + '\n\n').repeat(40)
  const message = relayMessage({
    format: 'v2',
    flowOutput: [
      { componentName: 'Knowledge search', branch: '1', content: longText, audio: [] },
      {
        componentName: 'C'.repeat(300),
        content: 'short',
        audio: [{ url: 'https://cdn.example.com/a (1).mp3', transcript: 'spoken words\nsecond line' }]
      }
    ]
  })
  const outcome = await deliverOne(relay, message, deliveryContext(memoryState()))
  t.equal(outcome.status, 'delivered', 'the strict fake accepted every part')
  const posted = fake.messagesIn(fake.threadsOf(channel.id)[0]!.id)
  const embeds = posted.flatMap(m => m.embeds)
  t.ok(posted.every(m => m.embeds.length <= 10))
  const descriptions = embeds.map(e => e.description ?? '').join('')
  t.equal(
    descriptions.split('Paragraph of flow output.').length - 1,
    1600,
    'every sentence of the flow output arrived once'
  )
  t.ok(
    descriptions.includes('🔊 [Audio](https://cdn.example.com/a%20%281%29.mp3)\n> spoken words\n> second line'),
    'audio as a link with its transcript'
  )
  t.ok(
    descriptions.includes('**' + 'C'.repeat(300) + '**'),
    'a name too long for a title is kept whole in the description'
  )
  t.equal(embeds[0]!.title, 'Knowledge search')
  t.ok(embeds.some(e => e.footer?.text === 'branch 1'))
})
