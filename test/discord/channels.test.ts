import { join } from 'node:path'
import t, { type Test } from 'tap'
import plugin from '../../plugins/discord/index.js'
import { systemClock } from '../../src/clock.js'
import { conversationState } from '../../src/dispatch/state.js'
import type { Relay } from '../../src/relays/types.js'
import { openPostgresStore } from '../../src/store/postgres.js'
import { SqliteStore } from '../../src/store/sqlite.js'
import type { ConversationStateStore } from '../../src/store/types.js'
import { ChannelType, FakeDiscord } from '../fakes/discord.js'
import { postgresOrSkip } from '../helpers/postgres.js'
import { memoryState } from '../helpers/memory-state.js'
import { deskScene, establish } from './desk/fixtures.js'
import { deliveryContext, recordingLogger, relayMessage } from '../helpers/relay.js'
import { deliverOne } from '../../src/relays/run-adapter.js'
import { asRunRelay } from '../../src/relays/run-adapter.js'

// Several channels for the Discord relay's bot modes (#15): new conversations go to the least busy
// channel and stay there, on every replica and across restarts; /metrics gets the lag per channel.

const fake = await new FakeDiscord().start()
t.teardown(() => fake.close())

let relayName = 'discord.multi'
let run = 0

interface Stores {
  open(): Promise<ConversationStateStore & { close(): Promise<void> }>
}

/** One relay instance, as one replica (or one run of the app) creates it. */
async function instance(options: object): Promise<Relay & { channelLag?(): ReadonlyMap<string, number> }> {
  return plugin.create(
    { token: fake.token, apiUrl: fake.api, ...options },
    { name: relayName, logger: recordingLogger(), configDir: '.', clock: systemClock }
  )
}

/** The channel a post went to: the thread's (or forum post's) parent, or the channel itself. */
function channelOf(target: string): string {
  const place = fake.channels.get(target)
  return place?.parent_id ?? target
}

async function send(relay: Relay, store: ConversationStateStore, conversationId: string, text: string) {
  const state = conversationState(store, relayName, 'default', conversationId)
  const outcome = await deliverOne(relay, relayMessage({ conversationId, text }), deliveryContext(state))
  if (outcome.status !== 'delivered') throw new Error(`not delivered: ${JSON.stringify(outcome)}`)
  const target = (outcome.posted as { target: string }).target
  return { target, channel: channelOf(target) }
}

function multiChannel(t: Test, stores: Stores) {
  // Each test is a relay of its own name: nothing it stores meets another test's.
  t.beforeEach(() => {
    relayName = `discord.multi${++run}`
  })

  for (const [mode, type] of [
    ['thread', ChannelType.Text],
    ['forum', ChannelType.Forum],
    ['channel', ChannelType.Text]
  ] as const) {
    t.test(
      `mode ${mode}: new conversations spread over the channels, also when two replicas share the store`,
      async t => {
        const channels = [fake.addChannel(type).id, fake.addChannel(type).id]
        const store = await stores.open()
        t.teardown(() => store.close())
        const [first, second] = [await instance({ channels, mode }), await instance({ channels, mode })]
        await first.ready?.()
        const a = await send(first, store, 'conv-a', 'a1')
        // The other replica knows what the first one chose through the store.
        const b = await send(second, store, 'conv-b', 'b1')
        t.same([a.channel, b.channel].sort(), [...channels].sort(), 'one conversation per channel')
        const c = await send(first, store, 'conv-c', 'c1')
        const d = await send(second, store, 'conv-d', 'd1')
        t.same([c.channel, d.channel].sort(), [...channels].sort(), 'then one more each')
        if (mode !== 'channel') {
          t.equal(fake.threadsOf(channels[0]!).length, 2, 'two threads in the first channel')
          t.equal(fake.threadsOf(channels[1]!).length, 2, 'two threads in the second channel')
        }
      }
    )
  }

  t.test('a conversation stays in its channel and thread on every replica and across a restart', async t => {
    const channels = [fake.addChannel(ChannelType.Text).id, fake.addChannel(ChannelType.Text).id]
    let store = await stores.open()
    const first = await send(await instance({ channels }), store, 'conv-x', 'x1')
    // Another conversation makes the other channel the least busy one meanwhile, then it is even.
    await send(await instance({ channels }), store, 'conv-y', 'y1')
    const again = await send(await instance({ channels }), store, 'conv-x', 'x2')
    t.same(again, first, 'same channel and thread, other replica')
    await store.close()
    store = await stores.open()
    t.teardown(() => store.close())
    const restarted = await send(await instance({ channels }), store, 'conv-x', 'x3')
    t.same(restarted, first, 'same channel and thread after a restart')
    t.same(
      fake.messagesIn(first.target).map(m => m.content?.replace(/^.*\n/, '')),
      ['x1', 'x2', 'x3'],
      'every message of the conversation in its one thread'
    )
  })

  t.test('a conversation threaded before several channels were given keeps its thread', async t => {
    const channels = [fake.addChannel(ChannelType.Text).id, fake.addChannel(ChannelType.Text).id]
    const store = await stores.open()
    t.teardown(() => store.close())
    const before = await send(await instance({ channel: channels[1] }), store, 'old', 'o1')
    const after = await send(await instance({ channels }), store, 'old', 'o2')
    t.same(after, before)
  })
}

t.test('channelLag tells the channel while a post waits, and drops it once posted', async t => {
  const channels = [fake.addChannel(ChannelType.Text).id, fake.addChannel(ChannelType.Text).id]
  relayName = 'discord.lag'
  const relay = await instance({ channels, maxRateLimitWaitMs: 0 })
  const store = new SqliteStore({ path: join(t.testdir(), 'lag.db') })
  t.teardown(() => store.close())
  t.same([...relay.channelLag!().keys()], [], 'nothing waits at first')
  const state = conversationState(store, relayName, 'default', 'slow')
  const message = relayMessage({ conversationId: 'slow', text: 'waits', receivedAt: Date.now() - 5000 })
  // The thread cannot be made yet: Discord says to come back in a minute.
  fake.rateLimitNext(1, { route: 'POST /channels/:id/threads', match: channels[0], retryAfterMs: 60_000 })
  const waiting = await deliverOne(relay, message, deliveryContext(state))
  t.equal(waiting.status, 'retry')
  t.same([...relay.channelLag!().entries()], [[channels[0], message.receivedAt]], 'the channel waits since then')
  // The lane's backlog goes together now, into the same channel.
  const next = relayMessage({ conversationId: 'slow', text: 'then this' })
  const posted = await asRunRelay(relay).deliverRun([message, next], deliveryContext(state))
  t.equal(posted.delivered.length, 2, 'both posted')
  t.equal(fake.threadsOf(channels[0]!).length, 1, 'in a thread of the channel that waited')
  t.same([...relay.channelLag!().keys()], [], 'nothing waits once posted')
})

t.test('the handoff desk keeps the first channel, and its buttons there act', async t => {
  const other = fake.addChannel(ChannelType.Text)
  const scene = await deskScene(fake, { channels: [other.id] })
  t.teardown(scene.close)
  // An ordinary conversation takes the first channel: the other one is now the least busy.
  const chat = await deliverOne(
    scene.relay,
    relayMessage({ conversationId: 'chat', text: 'hello' }),
    deliveryContext(memoryState())
  )
  t.equal(chat.status, 'delivered')
  const outcome = await deliverOne(scene.relay, scene.message(establish()), deliveryContext(scene.state))
  t.equal(outcome.status, 'delivered')
  t.equal(fake.threadsOf(other.id).length, 0, 'no handoff thread in the other channel')
  const threads = fake.threadsOf(scene.channel.id)
  t.equal(threads.length, 2, "the chat's thread and the handoff's, in the first channel")
  const opening = fake.messagesIn(threads[1]!.id)[0]!
  const claim = opening.components![0]!.components.find(b => b.label === 'Claim')!.custom_id!
  const agent = { id: '200000000000000002', username: 'ann', global_name: 'Ann Agent' }
  const result = await fake.click(scene.endpoint.url, opening.id, claim, { user: agent })
  t.equal(result.status, 200)
  t.same(scene.memory.claims, [{ ...scene.ref, author: { id: agent.id, name: 'Ann Agent' } }], 'the claim acted')
})

t.test('the config takes channel, channels or both; channels not with webhookUrl', async t => {
  const text = fake.addChannel(ChannelType.Text)
  const other = fake.addChannel(ChannelType.Text)
  const hook = fake.addWebhook(text.id)
  await t.rejects(async () => instance({ webhookUrl: hook.url, mode: 'channel', channels: [text.id] }), {
    message: /channels cannot be used with webhookUrl/
  })
  await t.rejects(async () => instance({}), { message: /set channel/ })
  await t.resolves((await instance({ channel: text.id, channels: [text.id, other.id] })).ready!())
  const forum = fake.addChannel(ChannelType.Forum)
  await t.rejects((await instance({ channels: [text.id, forum.id] })).ready!(), {
    message: new RegExp(`channel ${forum.id} is a forum channel`)
  })
})

t.test('SQLite', async t => {
  const dir = t.testdir()
  multiChannel(t, {
    async open() {
      return new SqliteStore({ path: join(dir, `relay-${t.name}.db`) })
    }
  })
})

t.test('PostgreSQL', async t => {
  const db = await postgresOrSkip(t)
  if (!db) return
  const schema = await db.schema(t, { create: false })
  multiChannel(t, {
    open: () => openPostgresStore({ url: db.url, schema, poolSize: 2 })
  })
})
