import { join } from 'node:path'
import { systemClock } from '../../src/clock.js'
import t, { type Test } from 'tap'
import plugin from '../../plugins/slack/index.js'
import { conversationState } from '../../src/dispatch/state.js'
import type { Relay } from '../../src/relays/types.js'
import { openPostgresStore } from '../../src/store/postgres.js'
import { SqliteStore } from '../../src/store/sqlite.js'
import type { ConversationStateStore } from '../../src/store/types.js'
import { FakeSlack, fakeToken, relayMessage, shownMarkdown } from '../fakes/slack.js'
import { deliveryContext, recordingLogger } from '../helpers/relay.js'
import { postgresOrSkip } from '../helpers/postgres.js'
import { deliverOne } from '../../src/relays/run-adapter.js'

const channels = ['C0000001', 'C0000002', 'C0000003']
let relayName = 'slack.multi'
let run = 0

interface Stores {
  open(): Promise<ConversationStateStore & { close(): Promise<void> }>
}

async function fakeWithChannels(t: Test): Promise<FakeSlack> {
  const fake = await FakeSlack.start({
    rateLimit: false,
    channels: Object.fromEntries(channels.map((id, i) => [id, { name: `relay-${i}` }]))
  })
  t.teardown(() => fake.close())
  return fake
}

/** One relay instance, as one replica (or one run of the app) creates it. */
async function instance(fake: FakeSlack, options: object = {}): Promise<Relay> {
  return plugin.create(
    {
      token: fakeToken,
      channels,
      apiUrl: fake.apiUrl,
      pace: { intervalMs: 0, burst: 1 },
      ...options
    },
    { name: relayName, logger: recordingLogger(), configDir: '.', clock: systemClock }
  )
}

async function send(relay: Relay, store: ConversationStateStore, conversationId: string, text: string) {
  const state = conversationState(store, relayName, 'default', conversationId)
  const outcome = await deliverOne(relay, relayMessage({ conversationId, text }), deliveryContext(state))
  if (outcome.status !== 'delivered') throw new Error(`not delivered: ${JSON.stringify(outcome)}`)
  return outcome.posted as { channel: string; threadTs: string }
}

function multiChannel(t: Test, stores: Stores) {
  // Each test is a relay of its own name: nothing it stores meets another test's.
  t.beforeEach(() => {
    relayName = `slack.multi${++run}`
  })
  t.test('new conversations spread over the channels, also when two replicas share the store', async t => {
    const fake = await fakeWithChannels(t)
    const store = await stores.open()
    t.teardown(() => store.close())
    const [first, second] = [await instance(fake), await instance(fake)]
    const a = await send(first, store, 'conv-a', 'a1')
    const b = await send(first, store, 'conv-b', 'b1')
    // The other replica knows what the first one chose through the store.
    const c = await send(second, store, 'conv-c', 'c1')
    t.same([a.channel, b.channel, c.channel].sort(), channels, 'one conversation per channel')
    const d = await send(second, store, 'conv-d', 'd1')
    t.ok(channels.includes(d.channel))
  })

  t.test('a conversation stays in its channel and thread on every replica and across a restart', async t => {
    const fake = await fakeWithChannels(t)
    let store = await stores.open()
    const first = await send(await instance(fake), store, 'conv-x', 'x1')
    // Other conversations make another channel the least busy one meanwhile.
    await send(await instance(fake), store, 'conv-y', 'y1')
    await send(await instance(fake), store, 'conv-z', 'z1')
    const again = await send(await instance(fake), store, 'conv-x', 'x2')
    t.same(
      again,
      { ...again, channel: first.channel, threadTs: first.threadTs },
      'same channel and thread, other replica'
    )
    await store.close()
    store = await stores.open()
    t.teardown(() => store.close())
    const restarted = await send(await instance(fake), store, 'conv-x', 'x3')
    t.equal(restarted.channel, first.channel, 'same channel after a restart')
    t.equal(restarted.threadTs, first.threadTs, 'same thread after a restart')
    const xs = fake.messages.filter(m => /^x\d/.test(shownMarkdown(m)))
    t.same(
      xs.map(m => [m.channel, m.thread_ts]),
      [1, 2, 3].map(() => [first.channel, first.threadTs]),
      'no conversation split over channels or threads'
    )
  })

  t.test('a conversation threaded before several channels were given keeps its thread', async t => {
    const fake = await fakeWithChannels(t)
    const store = await stores.open()
    t.teardown(() => store.close())
    const before = await send(await instance(fake, { channels: undefined, channel: channels[2] }), store, 'old', 'o1')
    const after = await send(await instance(fake), store, 'old', 'o2')
    t.same([after.channel, after.threadTs], [channels[2], before.threadTs])
  })
}

t.test('the config takes channel, channels or both, and needs one', async t => {
  const fake = await fakeWithChannels(t)
  await t.rejects(
    async () =>
      plugin.create(
        { token: fakeToken, apiUrl: fake.apiUrl },
        { name: 'x', logger: recordingLogger(), configDir: '.', clock: systemClock }
      ),
    { message: /set "channel"/ }
  )
  const relay = await instance(fake, { channel: channels[1], channels: [channels[0], channels[1]] })
  await relay.ready?.()
  t.pass('both given: every channel is checked and ready')
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
