import { systemClock } from '../../src/clock.js'
import t from 'tap'
import plugin from '../../plugins/slack/index.js'
import type { SlackOptions } from '../../plugins/slack/options.js'
import type { ConversationState } from '../../src/relays/types.js'
import { FakeSlack, fakeChannel, fakeToken, relayMessage, shownMarkdown } from '../fakes/slack.js'
import { memoryState } from '../helpers/memory-state.js'
import { deliveryContext, recordingLogger } from '../helpers/relay.js'
import { deliverOne } from '../../src/relays/run-adapter.js'

// Fast pacing for tests; the fake allows a little more than the relay asks for.
const pace = { intervalMs: 2, burst: 5 }
type Teardown = Pick<typeof t, 'teardown'>

async function setup(t: Teardown, options: Partial<SlackOptions> = {}) {
  const fake = await FakeSlack.start({
    rateLimit: { intervalMs: 1, burst: 10 },
    channels: { [fakeChannel]: {}, C0SECOND: {} }
  })
  t.teardown(() => fake.close())
  const logger = recordingLogger()
  const create = (extra: Partial<SlackOptions> = {}) =>
    plugin.create(
      { token: fakeToken, channel: fakeChannel, apiUrl: fake.apiUrl, pace, ...options, ...extra },
      { name: 'slack.test', logger, configDir: '.', clock: systemClock }
    )
  return { fake, logger, relay: await create(), create }
}

/** One memory state per conversation, as the core keeps one per relay and conversation. */
function stateOf(conversationId: string, store: Map<string, ConversationState>): ConversationState {
  let state = store.get(conversationId)
  if (!state) store.set(conversationId, (state = memoryState()))
  return state
}

t.test('each conversation gets its own thread, messages interleaved', async t => {
  const { fake, relay } = await setup(t)
  const store = new Map<string, ConversationState>()
  const order = ['a', 'b', 'a', 'c', 'b', 'a', 'c', 'c', 'b']
  for (const [i, conversationId] of order.entries()) {
    const message = relayMessage({ conversationId, text: `${conversationId} says ${i}` })
    const outcome = await deliverOne(relay, message, deliveryContext(stateOf(conversationId, store)))
    t.equal(outcome.status, 'delivered', `message ${i} delivered`)
  }
  const parents = fake.parents()
  t.equal(parents.length, 3, 'one parent per conversation')
  for (const conversationId of ['a', 'b', 'c']) {
    const parent = parents.find(p => p.metadata?.event_payload.conversation_id === conversationId)
    t.ok(parent, `the parent of ${conversationId} names it in its metadata`)
    t.match(parent?.text, conversationId, 'and in its text')
    const said = fake.replies(parent?.ts ?? '').map(shownMarkdown)
    const expected = order.flatMap((c, i) => (c === conversationId ? [`${c} says ${i}`] : []))
    t.same(said, expected, `${conversationId}'s messages are replies in its thread, in order`)
  }
})

t.test('a restart keeps the threads (new relay, same state)', async t => {
  const { fake, relay, create } = await setup(t)
  const store = new Map<string, ConversationState>()
  await deliverOne(relay, relayMessage({ conversationId: 'x', text: 'before' }), deliveryContext(stateOf('x', store)))
  await relay.close?.()
  const restarted = await create()
  const outcome = await deliverOne(
    restarted,
    relayMessage({ conversationId: 'x', text: 'after' }),
    deliveryContext(stateOf('x', store))
  )
  t.equal(outcome.status, 'delivered')
  t.equal(fake.parents().length, 1, 'no second thread')
  t.same(fake.replies(fake.parents()[0]?.ts ?? '').map(shownMarkdown), ['before', 'after'])
})

t.test('with threadStart "message", the first message is the parent', async t => {
  const { fake, relay } = await setup(t, { threadStart: 'message' })
  const state = memoryState()
  await deliverOne(relay, relayMessage({ conversationId: 'm', text: 'first' }), deliveryContext(state))
  await deliverOne(relay, relayMessage({ conversationId: 'm', text: 'second' }), deliveryContext(state))
  const [parent] = fake.parents()
  t.equal(fake.parents().length, 1)
  t.equal(shownMarkdown(parent!), 'first')
  t.equal(parent?.metadata?.event_payload.conversation_id, 'm', 'the parent carries the conversation in its metadata')
  t.same(fake.replies(parent!.ts).map(shownMarkdown), ['second'])
})

t.test('a message cut off midway resumes after the parts already posted', async t => {
  const { fake, relay } = await setup(t, { maxPartLength: 1000 })
  const state = memoryState()
  const text = Array.from({ length: 3 }, (_, i) => `Paragraph ${i} ` + 'word '.repeat(150).trim()).join('\n\n')
  let posts = 0
  fake.on('chat.postMessage', () => (++posts === 3 ? { status: 500, body: 'boom' } : undefined))
  const message = relayMessage({ conversationId: 'r', text })
  const first = await deliverOne(relay, message, deliveryContext(state))
  t.equal(first.status, 'retry', 'the failed part asks for a retry')
  t.equal(fake.messages.length, 2, 'parent and first part are on Slack')
  const second = await deliverOne(relay, message, { ...deliveryContext(state), attempt: 2 })
  t.equal(second.status, 'delivered')
  const parts = fake.replies(fake.parents()[0]!.ts).map(shownMarkdown)
  t.same(
    parts.map(p => p.slice(0, 11)),
    ['Paragraph 0', 'Paragraph 1', 'Paragraph 2'],
    'each part once, in order'
  )
  t.notOk(
    state.map.get('thread') && (state.map.get('thread') as { progress?: unknown }).progress,
    'no progress left once done'
  )
})

t.test('a deleted parent: the message goes into a new thread', async t => {
  const { fake, relay } = await setup(t)
  const state = memoryState()
  await deliverOne(relay, relayMessage({ conversationId: 'd', text: 'one' }), deliveryContext(state))
  const old = fake.parents()[0]!
  fake.deleteMessage(fakeChannel, old.ts)
  const outcome = await deliverOne(relay, relayMessage({ conversationId: 'd', text: 'two' }), deliveryContext(state))
  t.equal(outcome.status, 'delivered')
  const parents = fake.parents()
  t.equal(parents.length, 1)
  t.not(parents[0]?.ts, old.ts, 'a new parent')
  t.same(fake.replies(parents[0]!.ts).map(shownMarkdown), ['two'])
})

t.test('a thread in another channel (the config changed) is not reused', async t => {
  const { fake, relay, create } = await setup(t)
  const state = memoryState()
  await deliverOne(relay, relayMessage({ conversationId: 'k', text: 'here' }), deliveryContext(state))
  const moved = await create({ channel: 'C0SECOND' })
  const outcome = await deliverOne(moved, relayMessage({ conversationId: 'k', text: 'there' }), deliveryContext(state))
  t.equal(outcome.status, 'delivered')
  const [parent] = fake.parents('C0SECOND')
  t.ok(parent, 'a parent in the new channel')
  t.same(fake.replies(parent!.ts).map(shownMarkdown), ['there'])
})

t.test('delivered reports what was posted', async t => {
  const { fake, relay } = await setup(t)
  const outcome = await deliverOne(relay, relayMessage({ conversationId: 'p' }), deliveryContext(memoryState()))
  const reply = fake.messages.at(-1)!
  t.same(outcome, {
    status: 'delivered',
    posted: {
      channel: fakeChannel,
      threadTs: reply.thread_ts,
      ts: [reply.ts],
      parts: 1,
      link: `https://fake.slack.com/archives/${fakeChannel}/p${reply.ts.replace('.', '')}?thread_ts=${reply.thread_ts}&cid=${fakeChannel}`
    }
  })
})

t.test('in a busy channel, a new thread starts with its title and first post in one parent', async t => {
  // Slow pacing: a long message's parts wait in line for the channel while another conversation starts.
  const { fake, relay } = await setup(t, { pace: { intervalMs: 400, burst: 1 }, maxPartLength: 1000 })
  const long = Array.from({ length: 3 }, (_, i) => `Part ${i} ` + 'word '.repeat(150).trim()).join('\n\n')
  const busy = deliverOne(relay, relayMessage({ conversationId: 'long', text: long }), deliveryContext(memoryState()))
  while (fake.messages.length < 1) await new Promise(resolve => setTimeout(resolve, 10))
  await new Promise(resolve => setTimeout(resolve, 50))
  t.equal(fake.messages.length, 1, 'the long message still waits for the channel')

  const state = memoryState()
  const first = await deliverOne(
    relay,
    relayMessage({ conversationId: 'new', text: 'first turn' }),
    deliveryContext(state)
  )
  t.equal(first.status, 'delivered')
  const parent = fake.parents().find(p => p.metadata?.event_payload.conversation_id === 'new')
  t.ok(parent, 'the parent carries the conversation in its metadata')
  t.match(parent?.text, /^GPTBots conversation new\n/, 'its notification starts with the title')
  t.same(
    parent?.blocks?.[0],
    { type: 'section', text: { type: 'mrkdwn', text: 'GPTBots conversation new' } },
    'the title opens it'
  )
  t.equal(shownMarkdown(parent!), 'first turn', 'and the first turn follows, with its speaker')
  t.equal(parent?.blocks?.[1]?.type, 'context')
  await busy

  // Once the channel is quiet, the next turn goes into the same thread, as a reply.
  await deliverOne(relay, relayMessage({ conversationId: 'new', text: 'second turn' }), deliveryContext(state))
  t.same(fake.replies(parent!.ts).map(shownMarkdown), ['second turn'])
  t.equal(fake.parents().filter(p => p.metadata?.event_payload.conversation_id === 'new').length, 1, 'one thread')

  // A quiet channel keeps the plain title parent.
  await deliverOne(relay, relayMessage({ conversationId: 'quiet', text: 'hello' }), deliveryContext(memoryState()))
  const quiet = fake.parents().find(p => p.metadata?.event_payload.conversation_id === 'quiet')
  t.equal(quiet?.text, 'GPTBots conversation quiet')
  t.equal(quiet?.blocks, undefined, 'the title alone')
  t.same(fake.replies(quiet!.ts).map(shownMarkdown), ['hello'])
})
