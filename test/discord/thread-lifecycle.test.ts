import { systemClock } from '../../src/clock.js'
import t from 'tap'
import plugin from '../../plugins/discord/index.js'
import { memoryState } from '../helpers/memory-state.js'
import { ChannelType, FakeDiscord, deliverAsCore } from '../fakes/discord.js'
import { deliveryContext, recordingLogger, relayMessage } from '../helpers/relay.js'
import { deliverOne } from '../../src/relays/run-adapter.js'

const fake = await new FakeDiscord().start()
t.teardown(() => fake.close())

const relayFor = (channel: string, extra: object = {}) =>
  plugin.create(
    { token: fake.token, channel, apiUrl: fake.api, ...extra },
    { name: 'discord.threads', logger: recordingLogger(), configDir: '.', clock: systemClock }
  )
const contentsIn = (id: string) => fake.messagesIn(id).map(m => m.content)

t.test('an archived thread is reopened by the next message', async t => {
  const channel = fake.addChannel(ChannelType.Text)
  const relay = await relayFor(channel.id)
  const state = memoryState()
  await deliverOne(relay, relayMessage({ text: 'before the archive' }), deliveryContext(state))
  const [thread] = fake.threadsOf(channel.id)
  fake.archive(thread!.id)
  t.equal(
    (await deliverOne(relay, relayMessage({ text: 'after the archive' }), deliveryContext(state))).status,
    'delivered'
  )
  t.equal(fake.threadsOf(channel.id).length, 1, 'the same thread')
  t.notOk(thread!.archived, 'unarchived')
  t.match(contentsIn(thread!.id), [/before the archive/, /after the archive/])
})

for (const mode of ['thread', 'forum'] as const) {
  t.test(`a deleted ${mode === 'forum' ? 'forum post' : 'thread'} is made again and the mapping updated`, async t => {
    const channel = fake.addChannel(mode === 'forum' ? ChannelType.Forum : ChannelType.Text)
    const relay = await relayFor(channel.id, { mode })
    const state = memoryState()
    await deliverOne(relay, relayMessage({ text: 'first' }), deliveryContext(state))
    const [old] = fake.threadsOf(channel.id)
    fake.remove(old!.id)
    const text = Array.from({ length: 300 }, (_, i) => `after deletion ${i}`).join('\n')
    const outcome = await deliverOne(relay, relayMessage({ text }), deliveryContext(state))
    t.equal(outcome.status, 'delivered')
    const fresh = fake.threadsOf(channel.id).filter(th => !th.deleted)
    t.equal(fresh.length, 1, 'one new thread')
    t.not(fresh[0]!.id, old!.id)
    t.match(await state.get('thread'), { id: fresh[0]!.id })
    const contents = contentsIn(fresh[0]!.id)
    t.ok(
      contents.length >= 2 &&
        contents.join('').includes('after deletion 0') &&
        contents.join('').includes('after deletion 299'),
      'the whole message is in the new thread'
    )
    t.equal((await deliverOne(relay, relayMessage({ text: 'next' }), deliveryContext(state))).status, 'delivered')
    t.equal(fake.threadsOf(channel.id).filter(th => !th.deleted).length, 1, 'and later messages follow it there')
  })
}

t.test('a locked archived thread is replaced by a new one', async t => {
  const channel = fake.addChannel(ChannelType.Text)
  const relay = await relayFor(channel.id)
  const state = memoryState()
  await deliverOne(relay, relayMessage({ text: 'first' }), deliveryContext(state))
  const [old] = fake.threadsOf(channel.id)
  fake.archive(old!.id, true)
  t.equal((await deliverOne(relay, relayMessage({ text: 'second' }), deliveryContext(state))).status, 'delivered')
  const threads = fake.threadsOf(channel.id)
  t.equal(threads.length, 2)
  t.match(contentsIn(threads[1]!.id), [/second/])
})

t.test('a deleted parent channel is a permanent failure, not an endless loop of new threads', async t => {
  const channel = fake.addChannel(ChannelType.Text)
  const relay = await relayFor(channel.id)
  const state = memoryState()
  await deliverOne(relay, relayMessage({ text: 'first' }), deliveryContext(state))
  fake.remove(channel.id)
  const outcome = await deliverOne(relay, relayMessage({ text: 'second' }), deliveryContext(state))
  t.match(outcome, { status: 'failed', error: new RegExp(`channel ${channel.id} does not exist`) })
})

for (const mode of ['thread', 'forum'] as const) {
  t.test(
    `a ${mode === 'forum' ? 'forum post' : 'thread'} made by an attempt whose answer was lost is found again, not made twice`,
    async t => {
      const channel = fake.addChannel(mode === 'forum' ? ChannelType.Forum : ChannelType.Text)
      const relay = await relayFor(channel.id, { mode })
      const state = memoryState()
      fake.failNext(1, { route: 'POST /channels/:id/threads', match: channel.id, after: true })
      const { outcomes } = await deliverAsCore(
        relay,
        relayMessage({ conversationId: `lost-${mode}`, text: 'the very first message' }),
        state
      )
      t.same(
        outcomes.map(o => o.status),
        ['retry', 'delivered']
      )
      const threads = fake.threadsOf(channel.id)
      t.equal(threads.length, 1, 'one thread')
      t.equal(contentsIn(threads[0]!.id).length, 1, 'the first message once')
      t.match(contentsIn(threads[0]!.id), [/the very first message/])
      t.equal(await state.get('threadPending'), undefined, 'the marker is cleared')
    }
  )
}
