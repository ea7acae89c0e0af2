import t from 'tap'
import { post, seed } from '../helpers/app.js'
import { until } from '../helpers/process.js'
import { gate, reloadable } from './harness.js'

const conversations = ['c1', 'c2', 'c3']
const idsFor = (conversation: string, from: number, to: number) =>
  Array.from({ length: to - from }, (_, i) => `${conversation}-m${from + i}`)

t.test(
  'a relay replaced while deliveries are in flight: every queued message goes out once, in order, and the old instance closes after its attempts',
  async t => {
    const h = await reloadable(t, { relays: { chat: { type: 'console' } } })
    const old = h.relay('chat')
    for (const conversation of conversations) {
      for (const id of idsFor(conversation, 0, 4))
        t.equal((await post(h.app, seed({ conversation_id: conversation, message_id: id }))).statusCode, 200)
    }
    const release = gate()
    old.script = async () => {
      await release.opened
      return { status: 'delivered' }
    }
    const draining = h.app.relay.dispatcher.drain()
    t.ok(
      await until(() => old.attempts.length === conversations.length, 5000),
      'the first message of each conversation is in flight on the old instance'
    )

    h.write({ relays: { chat: { type: 'console', stream: 'stderr' } } })
    const result = await h.app.relay.reload!()
    t.ok(result.ok, result.message)
    t.same(result.changed?.relays.replaced, ['chat'])
    const fresh = h.relay('chat')
    t.not(fresh, old)
    t.notOk(old.closed, 'the old instance is not closed while its deliveries run')
    // Accepted after the swap, while the old instance still holds the first message of c1.
    for (const id of idsFor('c1', 4, 6)) await post(h.app, seed({ conversation_id: 'c1', message_id: id }))

    release.open()
    await draining
    await h.app.relay.dispatcher.drain()
    t.ok(await until(() => old.closed, 2000), 'the old instance is closed once its attempts ended')
    t.same(
      old.delivered.map(m => m.messageId).sort(),
      ['c1-m0', 'c2-m0', 'c3-m0'],
      'the old instance finished only what it had started'
    )
    t.equal(old.attempts.length, 3, 'and was given nothing after the swap')
    t.same(h.idsOf('chat', 'c1'), idsFor('c1', 0, 6), 'c1 in order, across the swap')
    for (const conversation of ['c2', 'c3'])
      t.same(h.idsOf('chat', conversation), idsFor(conversation, 0, 4), `${conversation} in order`)
    t.equal(h.log.length, 14, 'each message exactly once')
    t.same(h.overlaps, [], 'never two deliveries of one lane at once')
    t.same(await h.app.relay.store.pendingByRelay(), {})
  }
)

t.test(
  'the same, with the background dispatcher running: nothing is lost, duplicated or reordered by repeated reloads under load',
  async t => {
    const entries = [{ type: 'console' }, { type: 'console', stream: 'stderr' }]
    const h = await reloadable(t, { relays: { chat: entries[0] } }, { dispatch: 'background' })
    await h.app.ready()
    const jitter = () => new Promise(resolve => setTimeout(resolve, Math.random() * 4))
    const slow = async () => {
      await jitter()
      return { status: 'delivered' as const }
    }
    h.relay('chat').script = slow
    const perConversation = 15
    const posting = Promise.all(
      conversations.map(async conversation => {
        for (const id of idsFor(conversation, 0, perConversation)) {
          t.equal((await post(h.app, seed({ conversation_id: conversation, message_id: id }))).statusCode, 200)
          await jitter()
        }
      })
    )
    let reloads = 0
    const reloading = (async () => {
      while (h.log.length < conversations.length * perConversation && reloads < 40) {
        h.write({ relays: { chat: entries[++reloads % 2] } })
        const result = await h.app.relay.reload!()
        if (!result.ok) t.fail(result.message)
        h.relay('chat').script = slow
        await jitter()
      }
    })()
    await posting
    t.ok(await until(() => h.log.length >= conversations.length * perConversation, 10000), 'everything delivered')
    await reloading
    t.ok(reloads > 1, `reloaded ${reloads} times during delivery`)
    for (const conversation of conversations)
      t.same(
        h.idsOf('chat', conversation),
        idsFor(conversation, 0, perConversation),
        `${conversation} in order, once each`
      )
    t.same(h.overlaps, [], 'never two deliveries of one lane at once')
    await h.app.close()
    t.ok(
      h.instances.every(relay => relay.closed),
      'every instance, old and current, is closed at shutdown'
    )
  }
)

t.test(
  'a relay removed while a delivery is in flight: the attempt finishes, the rest waits for it to return',
  async t => {
    const h = await reloadable(t, { relays: { chat: { type: 'console' }, other: { type: 'console' } } })
    const chat = h.relay('chat')
    for (const id of idsFor('c1', 0, 3)) await post(h.app, seed({ conversation_id: 'c1', message_id: id }))
    const release = gate()
    chat.script = async () => {
      await release.opened
      return { status: 'delivered' }
    }
    const draining = h.app.relay.dispatcher.drain()
    t.ok(await until(() => chat.attempts.length === 1, 5000))
    h.write({ relays: { other: { type: 'console' } } })
    const result = await h.app.relay.reload!()
    t.ok(result.ok, result.message)
    t.notOk(chat.closed)
    release.open()
    await draining
    t.ok(await until(() => chat.closed, 2000), 'closed after its attempt')
    t.same(h.idsOf('chat', 'c1'), ['c1-m0'], 'the attempt in flight was recorded as delivered')
    t.same(await h.app.relay.store.pendingByRelay(), { chat: 2 }, 'the rest waits')

    h.write({ relays: { chat: { type: 'console' }, other: { type: 'console' } } })
    t.ok((await h.app.relay.reload!()).ok)
    await h.app.relay.dispatcher.drain()
    t.same(h.idsOf('chat', 'c1'), idsFor('c1', 0, 3), 'the rest followed, in order, once')
  }
)

t.test('reloads asked for at once run one after another', async t => {
  const h = await reloadable(t, { relays: { chat: { type: 'console' } } })
  h.write({ relays: { chat: { type: 'console' }, more: { type: 'console' } } })
  const [first, second] = await Promise.all([h.app.relay.reload!(), h.app.relay.reload!()])
  t.ok(first.ok, first.message)
  t.ok(second.ok, second.message)
  t.same(first.changed?.relays.added, ['more'])
  t.same(second.changed?.relays.added, [], 'the second saw what the first applied')
  t.equal(h.instances.filter(r => r.name === 'more').length, 1, 'one instance created')
})
