import { systemClock } from '../../../src/clock.js'
import t from 'tap'
import { ChannelType, FakeDiscord } from '../../fakes/discord.js'
import { deskScene, establish } from './fixtures.js'
import { deliveryContext } from '../../helpers/relay.js'
import { deliverOne } from '../../../src/relays/run-adapter.js'

const fake = await new FakeDiscord().start()
t.teardown(() => fake.close())

t.test('establish opens a thread: banner, who the user is, buttons, then the history in order; no pings', async t => {
  const scene = await deskScene(fake)
  t.teardown(scene.close)
  const history = [
    { type: 'QUESTION' as const, text: 'My order 1234 never came. @everyone help' },
    { type: 'ANSWER' as const, text: 'Sorry to hear that! Let me check <@&999999999999999999>.' },
    { type: 'QUESTION' as const, text: 'I want a human.' }
  ]
  const outcome = await deliverOne(
    scene.relay,
    scene.message(establish(history), { text: 'A human is needed' }),
    deliveryContext(scene.state)
  )
  t.equal(outcome.status, 'delivered')
  const [thread, ...others] = fake.threadsOf(scene.channel.id)
  t.ok(thread, 'a thread was made')
  t.equal(others.length, 0, 'one thread')
  t.equal(thread!.type, ChannelType.PublicThread)
  const [opening, ...rest] = fake.messagesIn(thread!.id)
  t.match(opening!.content, /A human is needed/, 'the banner')
  t.same(
    opening!.embeds[0]!.fields!.map(f => [f.name, f.value]),
    [
      ['User id', 'u-42'],
      ['Email', 'ann@example.com'],
      ['Anonymous id', 'anon-7'],
      ['Bot id', 'bot-1']
    ]
  )
  const row = opening!.components![0]!
  t.same(
    row.components.map(b => b.label),
    ['Claim', 'Reply', 'Close']
  )
  t.ok(
    row.components.every(b => b.custom_id!.length <= 100),
    'custom_ids fit'
  )
  const text = rest.map(m => m.content).join('\n')
  t.match(text, /Conversation so far/)
  t.ok(
    text.indexOf('never came') < text.indexOf('Sorry to hear') &&
      text.indexOf('Sorry to hear') < text.indexOf('I want a human'),
    'the history in order'
  )
  t.match(text, /👤 User\*\*\nMy order/, 'speaker by speaker')
  t.match(text, /🤖 GPTBots\*\*\nSorry/)
  t.same(
    fake.messagesIn(thread!.id).flatMap(m => m.pinged),
    [],
    'no mention in the history pings anyone'
  )
  t.same(await scene.memory.desk.find(`thread:${thread!.id}`), scene.ref, 'the thread is linked to the handoff')
})

t.test('the on-call role is pinged, and only it', async t => {
  const role = '123456789012345678'
  const scene = await deskScene(fake, { desk: { onCallRole: role } })
  t.teardown(scene.close)
  await deliverOne(
    scene.relay,
    scene.message(establish([{ type: 'QUESTION', text: '@everyone <@&222222222222222222> <@333333333333333333>' }])),
    deliveryContext(scene.state)
  )
  const thread = fake.threadsOf(scene.channel.id)[0]!
  const messages = fake.messagesIn(thread.id)
  t.same(messages[0]!.pinged, [`<@&${role}>`], 'the opening post pings the role')
  t.same(messages[0]!.allowed_mentions, { parse: [], roles: [role] })
  t.same(
    messages.slice(1).flatMap(m => m.pinged),
    [],
    'nothing else pings'
  )
})

t.test("the user's messages follow in the thread, in order, labelled as the user's", async t => {
  const scene = await deskScene(fake)
  t.teardown(scene.close)
  await deliverOne(scene.relay, scene.message(establish()), deliveryContext(scene.state))
  for (const text of ['first', 'second', 'third @here'])
    t.equal(
      (await deliverOne(scene.relay, scene.message({ kind: 'chat' }, { text }), deliveryContext(scene.state))).status,
      'delivered'
    )
  const thread = fake.threadsOf(scene.channel.id)[0]!
  const messages = fake.messagesIn(thread.id)
  t.equal(messages.length, 2 + 3 - 1, 'opening post, and no history post for an empty history, then three messages')
  t.match(
    messages.slice(1).map(m => m.content),
    [/👤 User\*\*\nfirst/, /second/, /third @here/]
  )
  t.same(
    messages.flatMap(m => m.pinged),
    []
  )
})

t.test('a forum channel gets a post per handoff, the opening post first with its buttons', async t => {
  const scene = await deskScene(fake, {}, ChannelType.Forum)
  t.teardown(scene.close)
  const outcome = await deliverOne(
    scene.relay,
    scene.message(establish([{ type: 'QUESTION', text: 'hi' }])),
    deliveryContext(scene.state)
  )
  t.equal(outcome.status, 'delivered')
  const post = fake.threadsOf(scene.channel.id)[0]!
  const [first, second] = fake.messagesIn(post.id)
  t.equal(first!.id, post.id, "the post's first message is the opening")
  t.equal(first!.components?.[0]?.components.length, 3)
  t.match(second!.content, /hi/)
})

t.test('a long history is split within Discord limits and nothing is lost', async t => {
  const scene = await deskScene(fake)
  t.teardown(scene.close)
  const history = Array.from({ length: 40 }, (_, i) => ({
    type: (i % 2 ? 'ANSWER' : 'QUESTION') as 'ANSWER' | 'QUESTION',
    text: `turn ${i} ${'x'.repeat(150)}`
  }))
  const outcome = await deliverOne(scene.relay, scene.message(establish(history)), deliveryContext(scene.state))
  t.equal(outcome.status, 'delivered')
  const thread = fake.threadsOf(scene.channel.id)[0]!
  const text = fake
    .messagesIn(thread.id)
    .slice(1)
    .map(m => m.content)
    .join('\n')
  const positions = history.map((_, i) => text.indexOf(`turn ${i} `))
  t.ok(
    positions.every((p, i) => p >= 0 && (i === 0 || p > positions[i - 1]!)),
    'every turn, in order'
  )
  t.ok(fake.messagesIn(thread.id).length < 12, 'turns are packed into few posts')
})

t.test('a desk relay needs the application id and key; a webhook cannot carry buttons', async t => {
  const { default: plugin } = await import('../../../plugins/discord/index.js')
  const channel = fake.addChannel(ChannelType.Text)
  const init = {
    name: 'discord.desk',
    logger: { debug() {}, info() {}, warn() {}, error() {} },
    configDir: '.',
    clock: systemClock
  }
  const { memoryDesk } = await import('../../helpers/memory-desk.js')
  t.throws(
    () =>
      plugin.create({ token: fake.token, channel: channel.id, apiUrl: fake.api }, { ...init, desk: memoryDesk().desk }),
    /handoff\.relays: set its desk\.applicationId and desk\.publicKey/
  )
  const hook = fake.addWebhook(channel.id)
  t.throws(
    () =>
      plugin.create(
        {
          token: fake.token,
          webhookUrl: hook.url,
          apiUrl: fake.api,
          desk: { applicationId: fake.application.id, publicKey: fake.application.publicKey }
        },
        init
      ),
    /remove webhookUrl/
  )
})
