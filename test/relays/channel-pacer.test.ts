import { slackEpoch } from '../fakes/slack.js'
import { ManualClock } from '../helpers/clock.js'
import { getEventListeners } from 'node:events'
import t from 'tap'
import { ChannelHeld, ChannelPacer } from '../../src/relays/channel-pacer.js'

/** When each of `count` posts to a channel would go out, relative to the start. */
async function slots(pacer: ChannelPacer, clock: ManualClock, channel: string, count: number): Promise<number[]> {
  const start = clock.now()
  const times: number[] = []
  for (let i = 0; i < count; i++) {
    await pacer.take(channel)
    times.push(clock.now() - start)
  }
  return times
}

t.test('a burst goes at once, then one post per interval', async t => {
  const clock = new ManualClock(slackEpoch)
  const pacer = new ChannelPacer(clock, 1000, 3)
  t.same(await slots(pacer, clock, 'C1', 6), [0, 0, 0, 1000, 2000, 3000])
})

t.test('a quiet channel earns its burst back', async t => {
  const clock = new ManualClock(slackEpoch)
  const pacer = new ChannelPacer(clock, 1000, 2)
  await slots(pacer, clock, 'C1', 4)
  clock.advance(10_000)
  t.same(await slots(pacer, clock, 'C1', 3), [0, 0, 1000])
})

t.test('channels are paced apart from each other', async t => {
  const clock = new ManualClock(slackEpoch)
  const pacer = new ChannelPacer(clock, 1000, 1)
  await pacer.take('C1')
  const before = clock.now()
  await pacer.take('C2')
  t.equal(clock.now(), before, 'C2 does not wait for C1')
})

t.test('concurrent posts to one channel get distinct slots, in the order they asked', async t => {
  const clock = new ManualClock(slackEpoch)
  const pacer = new ChannelPacer(clock, 1000, 1)
  const start = clock.now()
  const order: [number, number][] = []
  await Promise.all(
    [0, 1, 2].map(async i => {
      await pacer.take('C1')
      order.push([i, clock.now() - start])
    })
  )
  t.same(
    order,
    [
      [0, 0],
      [1, 1000],
      [2, 2000]
    ],
    'the first goes at once, the others wait their turn'
  )
})

t.test(
  'the pace counts from when Slack answered: a slow post and a quick one after it do not arrive too close',
  async t => {
    const clock = new ManualClock(slackEpoch)
    const pacer = new ChannelPacer(clock, 1000, 1)
    const start = clock.now()
    const answered = await pacer.take('C1')
    // Slack may have counted this post as late as its answer, 50 ms after it was let go.
    clock.advance(50)
    answered()
    await pacer.take('C1')
    t.equal(clock.now() - start, 1050)
  }
)

t.test('a burst whose first post arrived late moves the steady pace after it by as much', async t => {
  const clock = new ManualClock(slackEpoch)
  const pacer = new ChannelPacer(clock, 1000, 3)
  const start = clock.now()
  const burst = await Promise.all([0, 1, 2].map(() => pacer.take('C1')))
  t.equal(clock.now(), start, 'the burst goes at once')
  clock.advance(30)
  for (const answered of burst) answered()
  clock.advance(500)
  burst[0]!()
  clock.advance(-500)
  await pacer.take('C1')
  t.equal(
    clock.now() - start,
    1030,
    "one interval after the burst, counted from the first post's answer (a second answer changes nothing)"
  )
})

t.test('a hold after a 429 refuses posts until it ends, then resumes without a burst', async t => {
  const clock = new ManualClock(slackEpoch)
  const pacer = new ChannelPacer(clock, 1000, 3)
  pacer.hold('C1', clock.now() + 5000)
  await t.rejects(pacer.take('C1'), ChannelHeld)
  try {
    await pacer.take('C1')
  } catch (error) {
    t.equal((error as ChannelHeld).remainingMs, 5000)
  }
  await pacer.take('C2')
  t.pass('another channel is not held')
  clock.advance(5000)
  t.same(await slots(pacer, clock, 'C1', 3), [0, 1000, 2000])
})

t.test('a hold set while a post waits for its slot stops that post too', async t => {
  const clock = new ManualClock(slackEpoch)
  const pacer = new ChannelPacer(clock, 1000, 1)
  await pacer.take('C1')
  const waiting = pacer.take('C1')
  pacer.hold('C1', clock.now() + 30_000)
  await t.rejects(waiting, ChannelHeld)
})

t.test('an aborted delivery stops waiting', async t => {
  const clock = new ManualClock(slackEpoch)
  const pacer = new ChannelPacer(clock, 1000, 1)
  await pacer.take('C1')
  const abort = new AbortController()
  abort.abort()
  await t.rejects(pacer.take('C1', abort.signal), { name: 'AbortError' })
})

t.test('the posts of one delivery leave no listener on its signal', async t => {
  const clock = new ManualClock(slackEpoch)
  const pacer = new ChannelPacer(clock, 1000, 3)
  const abort = new AbortController()
  for (let i = 0; i < 12; i++) {
    const answered = await pacer.take('C1', abort.signal, { key: 'conversation' })
    answered()
    t.equal(getEventListeners(abort.signal, 'abort').length, 0, `none after post ${i + 1}`)
  }
  const held = pacer.take('C1', abort.signal, { key: 'conversation' })
  pacer.hold('C1', clock.now() + 30_000)
  await t.rejects(held, ChannelHeld)
  t.equal(getEventListeners(abort.signal, 'abort').length, 0, 'none after a post refused by a hold')
})

t.test('an interval of 0 does not pace at all', async t => {
  const clock = new ManualClock(slackEpoch)
  const pacer = new ChannelPacer(clock, 0, 1)
  t.same(await slots(pacer, clock, 'C1', 5), [0, 0, 0, 0, 0])
})

t.test('posts waiting for one channel are served round robin by conversation, not first come first served', async t => {
  const clock = new ManualClock()
  const pacer = new ChannelPacer(clock, 1000, 1)
  await pacer.take('C1')
  const order: string[] = []
  const ask = (key: string, label: string) =>
    pacer.take('C1', undefined, { key }).then(() => {
      order.push(label)
    })
  // A chatty conversation asks for five posts before two others ask for one each.
  const asked = ['a1', 'a2', 'a3', 'a4', 'a5'].map(label => ask('A', label))
  asked.push(ask('B', 'b1'), ask('C', 'c1'))
  await Promise.all(asked)
  t.same(order, ['a1', 'b1', 'c1', 'a2', 'a3', 'a4', 'a5'])
})

t.test("a conversation's first post goes before a long backlog of others", async t => {
  const clock = new ManualClock()
  const pacer = new ChannelPacer(clock, 1000, 1)
  await pacer.take('C1')
  const start = clock.now()
  const backlog = Array.from({ length: 20 }, (_, i) => pacer.take('C1', undefined, { key: `old-${i % 4}` }))
  const first = pacer.take('C1', undefined, { key: 'new', first: true }).then(() => clock.now() - start)
  t.equal(await first, 1000, 'the new thread parent takes the very next slot')
  await Promise.all(backlog)
  t.equal(clock.now() - start, 21_000, 'the backlog still gets every other slot')
})

t.test('waiting() counts the posts in line for a channel', async t => {
  const clock = new ManualClock()
  const pacer = new ChannelPacer(clock, 1000, 1)
  await pacer.take('C1')
  const pending = [pacer.take('C1', undefined, { key: 'a' }), pacer.take('C1', undefined, { first: true })]
  t.equal(pacer.waiting('C1'), 2)
  t.equal(pacer.waiting('C2'), 0)
  await Promise.all(pending)
  t.equal(pacer.waiting('C1'), 0)
})

t.test("a turn taken ahead of a post is that post's, and one no post used goes back", async t => {
  const clock = new ManualClock()
  const pacer = new ChannelPacer(clock, 1000, 1)
  const turn = await pacer.turn('C1', undefined, { key: 'a' })
  const takenAt = clock.now()
  const first = turn.use('C1')
  t.ok(first, 'the post goes at once, on the slot its turn took')
  first?.()
  t.equal(turn.use('C1'), undefined, 'the turn serves one post only')
  await pacer.take('C1', undefined, { key: 'a' })
  t.equal(clock.now() - takenAt, 1000, 'the next one waits its turn: the turn was used once')
  turn.release()

  // Taken for one channel, asked for another (the conversation moved): a new slot there, and the
  // turn's slot is not handed to anyone.
  const moved = await pacer.turn('C2', undefined, { key: 'b' })
  const before = clock.now()
  t.equal(moved.use('C3'), undefined, 'a turn for C2 does not serve C3')
  await pacer.take('C3', undefined, { key: 'b' })
  t.equal(clock.now(), before, 'C3 had its burst free')
  await pacer.take('C3', undefined, { key: 'b' })
  t.equal(clock.now() - before, 1000, 'and the C2 slot did not serve C3')

  const unused = await pacer.turn('C4', undefined, { key: 'c' })
  unused.release()
  unused.release()
  const released = clock.now()
  await pacer.take('C4', undefined, { key: 'c' })
  t.equal(clock.now() - released, 1000, 'a released turn is spent, not handed to the next post')
})
