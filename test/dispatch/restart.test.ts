import t from 'tap'
import { ManualClock } from '../helpers/clock.js'
import { FakeRelay } from '../helpers/fake-relay.js'
import { post, seed, testApp } from '../helpers/app.js'

t.test('after a restart, delivery resumes where it stopped, in order, with nothing lost or repeated', async t => {
  const first = new FakeRelay()
  const app = await testApp(t, { relays: new Map([['fake', first]]) })
  for (let n = 0; n < 6; n++) await post(app, seed({ message_id: `m${n}`, conversation_id: n % 2 ? 'odd' : 'even' }))
  // Deliver only the first two messages, then stop (a relay that stops answering mid-way).
  let allowed = 2
  first.script = () => (allowed-- > 0 ? { status: 'delivered' } : { status: 'retry', error: 'gone' })
  await app.relay.dispatcher.drain()
  t.equal(first.delivered.length, 2)
  await app.close()

  const second = new FakeRelay()
  // Retry times are kept across the restart: come back after they have passed.
  const later = new ManualClock(Date.now() + 60_000)
  const again = await testApp(t, { relays: new Map([['fake', second]]), dbPath: app.dbPath, clock: later })
  await again.relay.dispatcher.drain()
  const all = [...first.delivered, ...second.delivered]
  t.same(
    all.filter(m => m.conversationId === 'even').map(m => m.messageId),
    ['m0', 'm2', 'm4']
  )
  t.same(
    all.filter(m => m.conversationId === 'odd').map(m => m.messageId),
    ['m1', 'm3', 'm5']
  )
  t.equal(all.length, 6, 'each message delivered once')
  t.same(await again.relay.store.pendingByRelay(), {})
})

t.test('relay state survives a restart', async t => {
  const relay = new FakeRelay(async (m, ctx) => {
    const thread = await ctx.state.get<string>('thread')
    if (thread === undefined) await ctx.state.set('thread', `thread-of-${m.messageId}`)
    return { status: 'delivered', posted: { thread: thread ?? 'new' } }
  })
  const app = await testApp(t, { relays: new Map([['fake', relay]]) })
  await post(app, seed({ message_id: 'first' }))
  await app.relay.dispatcher.drain()
  await app.close()
  const again = await testApp(t, { relays: new Map([['fake', relay]]), dbPath: app.dbPath })
  await post(again, seed({ message_id: 'second' }))
  await again.relay.dispatcher.drain()
  const log = await again.relay.store.listDeliveries({})
  t.same(
    log.map(d => d.posted),
    [{ thread: 'new' }, { thread: 'thread-of-first' }]
  )
})

t.test('messages for a relay removed from the config wait for it instead of being dropped', async t => {
  const relay = new FakeRelay(() => ({ status: 'retry', error: 'later' }))
  const app = await testApp(t, { relays: new Map([['old', relay]]) })
  await post(app, seed())
  await app.close()
  const other = new FakeRelay()
  const without = await testApp(t, { relays: new Map([['other', other]]), dbPath: app.dbPath })
  await without.relay.dispatcher.drain()
  t.same(await without.relay.store.pendingByRelay(), { old: 1 }, 'kept')
  await without.close()
  const back = new FakeRelay()
  const restored = await testApp(t, {
    relays: new Map([['old', back]]),
    dbPath: app.dbPath,
    clock: new ManualClock(Date.now() + 60_000)
  })
  await restored.relay.dispatcher.drain()
  t.equal(back.delivered.length, 1, 'delivered once the relay is configured again')
})
