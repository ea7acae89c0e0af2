import t from 'tap'
import { systemClock } from '../../src/clock.js'
import plugin from '../../plugins/slack/index.js'
import type { SlackOptions } from '../../plugins/slack/options.js'
import { createSlackRelay } from '../../plugins/slack/relay.js'
import type { RelayMessage } from '../../src/message.js'
import type { ConversationState, Relay, RunOutcome } from '../../src/relays/types.js'
import { asRunRelay } from '../../src/relays/run-adapter.js'
import {
  FakeSlack,
  fakeChannel,
  fakeToken,
  relayMessage,
  shownMarkdown,
  type Block,
  type PostedMessage
} from '../fakes/slack.js'
import { deliveryContext, recordingLogger } from '../helpers/relay.js'
import { memoryState } from '../helpers/memory-state.js'

type Teardown = Pick<typeof t, 'teardown'>

async function setup(t: Teardown, options: Partial<SlackOptions> = {}, fakeOptions = {}) {
  const fake = await FakeSlack.start({ rateLimit: false, ...fakeOptions })
  t.teardown(() => fake.close())
  const relay = await plugin.create(
    { token: fakeToken, channel: fakeChannel, apiUrl: fake.apiUrl, pace: { intervalMs: 0, burst: 1 }, ...options },
    { name: 'slack.test', logger: recordingLogger(), configDir: '.', clock: systemClock }
  )
  return { fake, relay }
}

/** Offers the backlog again and again, as the dispatcher does, until every message is delivered. */
async function drain(relay: Relay, messages: RelayMessage[], state: ConversationState): Promise<RunOutcome[]> {
  const outcomes: RunOutcome[] = []
  let rest = messages
  while (rest.length > 0) {
    const offered = rest.slice(0, asRunRelay(relay).runLimits.maxMessages)
    const outcome = await asRunRelay(relay).deliverRun(offered, deliveryContext(state))
    outcomes.push(outcome)
    if (outcome.next) throw new Error(`not delivered: ${JSON.stringify(outcome.next)}`)
    if (outcome.delivered.length === 0) throw new Error('nothing delivered and no reason given')
    rest = rest.slice(outcome.delivered.length)
  }
  return outcomes
}

const contexts = (post: PostedMessage) => (post.blocks ?? []).filter(b => b.type === 'context')
const contextText = (block: Block) =>
  (block.elements as { type: string; text?: string }[])
    .filter(e => e.type === 'mrkdwn')
    .map(e => e.text)
    .join(' ')
const replies = (fake: FakeSlack) => fake.messages.filter(m => m.thread_ts)

t.test('a backlog of three turns goes out in one post, each turn with its speaker and time', async t => {
  const { fake, relay } = await setup(t)
  t.ok(asRunRelay(relay).runLimits.maxMessages > 1, 'the Slack relay takes runs of several')
  const at = Date.UTC(2026, 11, 2, 9, 30, 5)
  const messages = [
    relayMessage({ type: 'QUESTION', text: 'How much is the **Pro** plan?', createdAt: at }),
    relayMessage({ type: 'ANSWER', text: 'It is $20 a month.', createdAt: at + 4000 }),
    relayMessage({ type: 'QUESTION', text: 'And <!channel> the team plan?', createdAt: at + 9000 })
  ]
  const state = memoryState()
  const outcome = await asRunRelay(relay).deliverRun(messages, deliveryContext(state))
  t.equal(outcome.delivered.length, 3, 'all three delivered')
  t.notOk(outcome.next)
  const posts = replies(fake)
  t.equal(posts.length, 1, 'one post in the thread, after the title parent')
  const post = posts[0]!
  t.same(
    (outcome.delivered as { ts: string[]; combined: number }[]).map(p => [p.ts, p.combined]),
    [
      [[post.ts], 3],
      [[post.ts], 3],
      [[post.ts], 3]
    ],
    'each message reports the post it is in'
  )
  const heads = contexts(post).map(contextText)
  t.equal(heads.length, 3, 'one context block per turn')
  t.match(heads[0], /^:bust_in_silhouette: \*User\* · <!date\^1796203805\^[^|]+\|2026-12-02 09:30:05 UTC>$/)
  t.match(heads[1], /^:robot_face: \*Bot\* · <!date\^1796203809\^/)
  t.match(heads[2], /\*User\* · <!date\^1796203814\^/)
  // Turns in order: context, then its markdown.
  t.same(
    post.blocks!.map(b => b.type),
    ['context', 'markdown', 'context', 'markdown', 'context', 'markdown']
  )
  t.match(shownMarkdown(post), /Pro[\s\S]*\$20 a month[\s\S]*team plan/)
  t.notMatch(shownMarkdown(post), /<!channel>/, 'mentions are still neutralised')
  t.equal(
    post.text,
    'User: How much is the Pro plan?\nBot: It is $20 a month.\nUser: And &lt;\u2060!channel&gt; the team plan?',
    'the notification is plain text, one line per turn'
  )
  t.notOk(post.username, 'without customize, the app posts')
})

t.test('a single pending message is posted as deliver posts it', async t => {
  const { fake, relay } = await setup(t)
  const outcome = await asRunRelay(relay).deliverRun(
    [relayMessage({ text: 'Only one' })],
    deliveryContext(memoryState())
  )
  t.equal(outcome.delivered.length, 1)
  const [post] = replies(fake)
  t.equal(post?.text, 'Bot: Only one')
  t.equal(contexts(post!).length, 1)
  t.notOk((outcome.delivered[0] as { combined?: number }).combined)
})

t.test('with customize, a post of one speaker goes under that speaker, a mixed one under the app', async t => {
  const { fake, relay } = await setup(t, {
    customize: true,
    answer: { name: 'Ava', iconUrl: 'https://example.com/ava.png' }
  })
  const state = memoryState()
  await asRunRelay(relay).deliverRun(
    [relayMessage({ text: 'one' }), relayMessage({ text: 'two' })],
    deliveryContext(state)
  )
  await asRunRelay(relay).deliverRun(
    [relayMessage({ type: 'QUESTION', text: 'three' }), relayMessage({ text: 'four' })],
    deliveryContext(state)
  )
  const [same, mixed] = replies(fake)
  t.equal(same?.username, 'Ava')
  t.equal(same?.icon_url, 'https://example.com/ava.png')
  t.notOk(mixed?.username, 'two speakers: no single name would be true')
  const icon = (contexts(mixed!)[1]!.elements as { type: string; image_url?: string }[])[0]
  t.same(
    icon,
    { type: 'image', image_url: 'https://example.com/ava.png', alt_text: 'Ava' },
    "the speaker's icon opens the turn"
  )
  t.match(contextText(contexts(mixed!)[0]!), /\*User\*/)
})

t.test('many messages: several posts within 50 blocks and the markdown size, in order, prefixes exact', async t => {
  const { fake, relay } = await setup(t)
  // Each turn is four blocks (context, text, divider, text): twelve fit in 50 blocks.
  const short = Array.from({ length: 30 }, (_, i) => relayMessage({ text: `turn ${i} start\n\n---\n\nturn ${i} end` }))
  // Each of these is 4,000 characters: two fit in 10,000.
  const long = Array.from({ length: 5 }, (_, i) => relayMessage({ text: `long ${i} ${'word '.repeat(790)}` }))
  const outcomes = await drain(relay, [...short, ...long], memoryState())
  const posts = replies(fake)
  t.equal(posts.length, outcomes.length, 'one post per call')
  for (const [i, post] of posts.entries()) {
    t.ok(post.blocks!.length <= 50, `post ${i} has ${post.blocks!.length} blocks`)
    const markdown = post.blocks!.filter(b => b.type === 'markdown').reduce((n, b) => n + String(b.text).length, 0)
    t.ok(markdown <= 10_000, `post ${i} has ${markdown} characters of markdown`)
    t.equal(contexts(post).length, outcomes[i]!.delivered.length, 'the prefix is exactly the turns in the post')
  }
  t.same(
    outcomes.map(o => o.delivered.length),
    [12, 12, 8, 2, 1],
    'as few posts as the limits allow, never mixing a cut'
  )
  const shown = posts.map(shownMarkdown).join('\n')
  const order = [...shown.matchAll(/(turn|long) (\d+)( start)?/g)].filter(m => m[1] === 'long' || m[3])
  t.same(
    order.map(m => `${m[1]} ${m[2]}`),
    [...short.map((_, i) => `turn ${i}`), ...long.map((_, i) => `long ${i}`)],
    'every message, in order'
  )
})

t.test('a message that needs several posts goes alone, and only it is reported', async t => {
  const { fake, relay } = await setup(t)
  const big = relayMessage({ text: Array.from({ length: 60 }, (_, i) => `para ${i} ${'x'.repeat(400)}`).join('\n\n') })
  const outcome = await asRunRelay(relay).deliverRun(
    [big, relayMessage({ text: 'after' })],
    deliveryContext(memoryState())
  )
  t.equal(outcome.delivered.length, 1, 'the head alone')
  const posted = outcome.delivered[0] as { ts: string[]; parts: number }
  t.ok(posted.parts >= 3)
  t.equal(posted.ts.length, posted.parts)
  t.equal(replies(fake).length, posted.parts)
})

t.test('two tables never share a post: Slack takes one, at the end', async t => {
  const { fake, relay } = await setup(t)
  const table = '| a | b |\n| - | - |\n| 1 | 2 |'
  const outcomes = await drain(
    relay,
    [relayMessage({ text: `first\n\n${table}` }), relayMessage({ text: table }), relayMessage({ text: 'tail' })],
    memoryState()
  )
  t.same(
    outcomes.map(o => o.delivered.length),
    [1, 1, 1]
  )
  t.equal(replies(fake).length, 3)
})

t.test('a 429 on the combined post reports nothing delivered and says when to come back', async t => {
  const { fake, relay } = await setup(t)
  const state = memoryState()
  await asRunRelay(relay).deliverRun([relayMessage({ text: 'opens the thread' })], deliveryContext(state))
  fake.rateLimitNext(1, 7)
  const outcome = await asRunRelay(relay).deliverRun(
    [relayMessage({ text: 'a' }), relayMessage({ text: 'b' })],
    deliveryContext(state)
  )
  t.same(outcome.delivered, [])
  t.equal(outcome.next?.status, 'retry')
  t.equal((outcome.next as { retryAfterMs?: number }).retryAfterMs, 7000)
})

t.test('a split message cut off after its first part resumes with the rest, and reports it only then', async t => {
  const { fake, relay } = await setup(t)
  const state = memoryState()
  await asRunRelay(relay).deliverRun([relayMessage({ text: 'opens the thread' })], deliveryContext(state))
  let replyCalls = 0
  fake.on('chat.postMessage', () => (++replyCalls === 2 ? { status: 500, body: 'down' } : undefined))
  const big = relayMessage({ text: Array.from({ length: 60 }, (_, i) => `para ${i} ${'x'.repeat(400)}`).join('\n\n') })
  const first = await asRunRelay(relay).deliverRun([big, relayMessage({ text: 'next' })], deliveryContext(state))
  t.same(first.delivered, [], 'a part went, but the message is not delivered')
  t.equal(first.next?.status, 'retry')
  const before = replies(fake).length
  const again = await asRunRelay(relay).deliverRun([big, relayMessage({ text: 'next' })], deliveryContext(state))
  t.equal(again.delivered.length, 1)
  const posted = again.delivered[0] as { ts: string[]; parts: number }
  t.equal(replies(fake).length - before, posted.parts - 1, 'the part already posted is not posted again')
})

t.test("fairness: a new conversation's first post goes before another's long backlog", async t => {
  // Real time and short intervals; the fake is laxer than the pacer, so that a slow loopback
  // answer on a busy machine cannot turn into a 429: this test is about order.
  const fake = await FakeSlack.start({ rateLimit: { intervalMs: 20, burst: 3 } })
  t.teardown(() => fake.close())
  const relay = createSlackRelay(
    {
      token: fakeToken,
      channel: fakeChannel,
      apiUrl: fake.apiUrl,
      threadStart: 'message',
      pace: { intervalMs: 50, burst: 1 }
    },
    { name: 'slack.test', logger: recordingLogger(), configDir: '.', clock: systemClock }
  )
  // Four conversations with backlogs of six 6,000-character messages each, one post per message.
  const offered = new Map(
    ['A', 'C', 'D', 'E'].map(id => [
      id,
      Array.from({ length: 6 }, (_, i) => relayMessage({ conversationId: id, text: `${id}${i} ${'y'.repeat(6000)}` }))
    ])
  )
  const chatty = Promise.all(
    [...offered.keys()].map(async id => {
      const state = memoryState()
      while ((offered.get(id) as RelayMessage[]).length > 0) {
        const outcome = await asRunRelay(relay).deliverRun(offered.get(id)!, deliveryContext(state))
        if (outcome.next) throw new Error(JSON.stringify(outcome.next))
        offered.set(id, offered.get(id)!.slice(outcome.delivered.length))
      }
    })
  )
  while (fake.messages.length < 6) await new Promise(resolve => setTimeout(resolve, 2))
  const postedBefore = fake.messages.length
  const newcomer = asRunRelay(relay).deliverRun(
    [
      relayMessage({ conversationId: 'B', text: 'Hello, I am new' }),
      relayMessage({ conversationId: 'B', text: 'Anyone?' })
    ],
    deliveryContext(memoryState())
  )
  t.equal((await newcomer).delivered.length, 2)
  const at = fake.messages.findIndex(m => shownMarkdown(m).includes('I am new'))
  // One post may have been let through already when B asked; the four waiting ones come after B.
  t.ok(at <= postedBefore + 1, `B's first post is post ${at + 1}; ${postedBefore} had gone when it asked`)
  const waiting = [...offered.values()].reduce((n, rest) => n + rest.length, 0)
  t.ok(waiting >= 8, `the others still have ${waiting} messages waiting`)
  await chatty
  t.equal(fake.calls.filter(c => c.status === 429).length, 0, 'no 429')
  const parents = fake.messages.filter(m => !m.thread_ts)
  t.equal(parents.length, 5, 'one thread each')
  for (const parent of parents) {
    const id = shownMarkdown(parent).slice(0, 1)
    const own = fake.messages.filter(m => shownMarkdown(m).startsWith(id))
    t.ok(
      own.every(m => m === parent || m.thread_ts === parent.ts),
      `all of ${id}'s posts in its thread`
    )
  }
})
