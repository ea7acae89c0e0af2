import type { FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import { ManualClock } from '../../helpers/clock.js'
import { FakeDiscord } from '../../fakes/discord.js'
import { FakeGptbots, fakeApiKey } from '../../fakes/gptbots.js'
import { testApp } from '../../helpers/app.js'
import { call, chatBody, closeBody, establishBody } from '../../handoff/helpers.js'

const fake = await new FakeDiscord().start()
t.teardown(() => fake.close())

const agent = { id: '200000000000000002', username: 'ann', global_name: 'Ann Agent' }
const adminToken = 'admin-token-0123456789'
const other = { id: '300000000000000003', username: 'bob', global_name: 'Bob' }

/** The whole relay, listening on loopback (Discord posts interactions over HTTP), with a Discord desk. */
async function discordDesk(
  t: Test,
  role?: string,
  again?: { gptbots: FakeGptbots; channel: ReturnType<FakeDiscord['addChannel']>; dbPath: string }
) {
  const gptbots = again?.gptbots ?? (await FakeGptbots.start())
  if (!again) t.teardown(() => gptbots.close())
  const channel = again?.channel ?? fake.addChannel(0)
  const clock = new ManualClock(Date.now())
  const app: FastifyInstance & { dbPath: string } = await testApp(t, {
    dbPath: again?.dbPath,
    clock,
    random: () => 1,
    env: { GPTBOTS_API_KEY: fakeApiKey },
    config: {
      admin: { token: adminToken },
      dispatch: { backoffBaseMs: 1000, backoffMaxMs: 8000, maxAttempts: 3, deliveryTimeoutMs: 2000 },
      relays: {
        'discord.desk': {
          type: 'discord',
          token: fake.token,
          channel: channel.id,
          apiUrl: fake.api,
          desk: {
            applicationId: fake.application.id,
            publicKey: fake.application.publicKey,
            ...(role ? { onCallRole: role } : {})
          }
        }
      },
      handoff: { relays: ['discord.desk'], gptbots: { apiUrl: gptbots.apiUrl, timeoutMs: 1000 } }
    }
  } as never)
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  const endpoint = `${address}/relays/discord.desk/interactions`
  const drain = () => app.relay.dispatcher.drain()
  const thread = () => fake.threadsOf(channel.id)[0]!
  const opening = () => fake.messagesIn(thread().id)[0]!
  const button = (label: string) =>
    opening().components![0]!.components.find(b => b.label!.startsWith(label))!.custom_id!
  return { app, gptbots, channel, clock, endpoint, drain, thread, opening, button }
}

t.test('end to end: establish, the thread, the user, replies to GPTBots in order, Close from Discord', async t => {
  const role = '123456789012345678'
  const d = await discordDesk(t, role)
  t.ok(await fake.acceptsEndpoint(d.endpoint), 'Discord accepts the Interactions Endpoint URL')
  d.gptbots.open.add('h-1')
  t.same((await call(d.app, 'conversation/establish', establishBody('h-1'))).json(), { code: 200, message: 'success' })
  await call(d.app, 'chat', chatBody('h-1', 'Are you there?'))
  await call(d.app, 'chat', chatBody('h-1', 'Hello?? @everyone'))
  await d.drain()

  t.equal(fake.threadsOf(d.channel.id).length, 1, 'a thread for the handoff')
  const messages = fake.messagesIn(d.thread().id)
  t.match(messages[0]!.content, /A human is needed/)
  t.same(messages[0]!.pinged, [`<@&${role}>`], 'only the on-call role is pinged')
  t.match(JSON.stringify(messages[0]!.embeds), /ann@example\.com/, 'who the user is')
  const history = messages[1]!.content!
  t.ok(
    history.indexOf('My order #42') < history.indexOf('I am sorry') &&
      history.indexOf('I am sorry') < history.indexOf('Please hurry'),
    'the conversation so far, in order'
  )
  t.match(messages[2]!.content, /Are you there\?/)
  t.match(messages[3]!.content, /Hello\?\? @everyone/)
  t.same(
    messages.slice(1).flatMap(m => m.pinged),
    [],
    "the user's mentions ping nobody"
  )

  // Two people reply through the modal; each is stored before Discord gets its answer.
  for (const [who, text] of [
    [agent, 'Hi Ann, we are on it'],
    [other, 'Your parcel left today']
  ] as const) {
    const modal = await fake.click(d.endpoint, d.opening().id, d.button('Reply'), { user: who })
    t.equal(modal.body.type, 9, 'the Reply button opens a modal')
    const sent = await fake.submit(d.endpoint, modal, { text })
    t.equal(sent.body.type, 4, 'the reply shows in the thread')
  }
  await d.drain()
  await d.drain()
  t.same(
    d.gptbots.replies.map(r => [r.conversationId, r.text]),
    [
      ['h-1', 'Hi Ann, we are on it'],
      ['h-1', 'Your parcel left today']
    ],
    'the replies reached GPTBots once each, in order'
  )
  const shown = fake.answersIn(d.thread().id).filter(m => !m.ephemeral)
  t.same(
    shown.map(m => m.reactions),
    [['✅'], ['✅']],
    'the thread shows which replies reached the user'
  )
  t.match(shown[0]!.embeds[0]!.footer!.text, /Reached the user/)

  // Claim, then Close.
  const claimed = await fake.click(d.endpoint, d.opening().id, d.button('Claim'), { user: agent })
  t.equal(claimed.body.data.flags, 64)
  await d.drain()
  t.equal(d.opening().components![0]!.components[0]!.label, 'Claimed by Ann Agent')
  const closed = await fake.click(d.endpoint, d.opening().id, d.button('Close'), { user: other })
  t.equal(closed.body.data.flags, 64)
  await d.drain()
  t.same(d.gptbots.closed, ['h-1'], 'GPTBots was told the human closed it')
  t.match(fake.messagesIn(d.thread().id).at(-1)!.content, /Handoff closed by Bob/)
  t.ok(
    d.opening().components![0]!.components.every(b => b.disabled),
    'no button works any more'
  )
})

t.test("GPTBots' own close is shown, and a reply after it is refused and not sent", async t => {
  const d = await discordDesk(t)
  d.gptbots.open.add('h-2')
  await call(d.app, 'conversation/establish', establishBody('h-2'))
  await d.drain()
  const modal = await fake.click(d.endpoint, d.opening().id, d.button('Reply'), { user: agent })
  await call(d.app, 'conversation/close', closeBody('h-2', 'USER_CLOSED'))
  await d.drain()
  t.match(fake.messagesIn(d.thread().id).at(-1)!.content, /the user ended it/)
  const late = await fake.submit(d.endpoint, modal, { text: 'Sorry for the wait' })
  t.equal(late.body.data.flags, 64, 'only the writer is told')
  t.match(late.body.data.content, /Not sent: this handoff is closed \(the user ended it\)/)
  await d.drain()
  t.same(d.gptbots.replies, [], 'nothing reached GPTBots')
})

t.test('GPTBots 5xx: the reply is retried, then marked dead in the thread, and a replay delivers it', async t => {
  const d = await discordDesk(t)
  d.gptbots.open.add('h-3')
  await call(d.app, 'conversation/establish', establishBody('h-3'))
  await d.drain()
  d.gptbots.fail({ status: 503 }, { status: 502 }, { status: 500 })
  const modal = await fake.click(d.endpoint, d.opening().id, d.button('Reply'), { user: agent })
  await fake.submit(d.endpoint, modal, { text: 'Are you still there?' })
  for (let i = 0; i < 4; i++) {
    await d.drain()
    d.clock.advance(10_000)
  }
  await d.drain()
  t.same(d.gptbots.replies, [], 'three failures: nothing reached GPTBots')
  const shown = fake.answersIn(d.thread().id).find(m => !m.ephemeral)!
  t.match(shown.embeds[0]!.footer!.text, /Did not reach the user: .*dead letter/)
  t.same(shown.reactions, ['⚠️'])

  // An admin replays the dead letter; GPTBots is well again.
  const admin = { authorization: `Bearer ${adminToken}` }
  const dead = await d.app.inject({ method: 'GET', url: '/admin/dead-letters?relay=%40gptbots', headers: admin })
  const [letter] = dead.json().deadLetters
  t.match(letter, { relay: '@gptbots' })
  const replay = await d.app.inject({ method: 'POST', url: `/admin/dead-letters/${letter.id}/replay`, headers: admin })
  t.equal(replay.statusCode, 200)
  await d.drain()
  await d.drain()
  t.same(
    d.gptbots.replies.map(r => r.text),
    ['Are you still there?'],
    'the replayed reply reached the user'
  )
  t.match(shown.embeds[0]!.footer!.text, /Reached the user/, 'and the thread says so')
  t.same(shown.reactions, ['⚠️', '✅'])
  t.end()
})

t.test('a restart in the middle of a handoff: the buttons of the old thread still act', async t => {
  const first = await discordDesk(t)
  first.gptbots.open.add('h-4')
  await call(first.app, 'conversation/establish', establishBody('h-4'))
  await first.drain()
  const modal = await fake.click(first.endpoint, first.opening().id, first.button('Reply'), { user: agent })
  await first.app.close()

  const second = await discordDesk(t, undefined, {
    gptbots: first.gptbots,
    channel: first.channel,
    dbPath: first.app.dbPath
  })
  const sent = await fake.submit(second.endpoint, modal, { text: 'Back after a restart' })
  t.equal(sent.body.type, 4, 'the reply is taken by the restarted relay')
  await call(second.app, 'chat', chatBody('h-4', 'Thanks!'))
  await second.drain()
  await second.drain()
  t.same(
    first.gptbots.replies.map(r => r.text),
    ['Back after a restart']
  )
  t.equal(fake.threadsOf(first.channel.id).length, 1, 'still one thread')
  t.match(fake.messagesIn(second.thread().id).at(-1)!.content, /Thanks!/, "the user's next message lands in it")
  const closed = await fake.click(second.endpoint, second.opening().id, second.button('Close'), { user: agent })
  t.equal(closed.body.data.flags, 64)
  await second.drain()
  t.same(first.gptbots.closed, ['h-4'])
})

t.test('the interactions endpoint answers bad requests with the envelope, never a stack', async t => {
  const d = await discordDesk(t)
  const bare = await d.app.inject({ method: 'POST', url: '/relays/discord.desk/interactions' })
  t.equal(bare.statusCode, 401, 'a bare POST, as curl sends it, is refused: the URL reaches the desk')
  t.equal(bare.headers['x-relay-error'], 'SIGNATURE_MISSING')
  t.same(Object.keys(bare.json()).sort(), ['code', 'msg'])
  const timestamp = String(Math.floor(Date.now() / 1000))
  const garbage = '{"type": 3,'
  const signed = await d.app.inject({
    method: 'POST',
    url: '/relays/discord.desk/interactions',
    headers: {
      'content-type': 'application/json',
      'x-signature-timestamp': timestamp,
      'x-signature-ed25519': fake.sign(timestamp, garbage)
    },
    payload: garbage
  })
  t.equal(signed.statusCode, 400)
  t.same(signed.json(), { code: 400, msg: 'the body is not valid JSON' })
})
