import t from 'tap'
import { fakeChannel } from '../fakes/slack.js'
import { call, establishBody } from './helpers.js'
import { adminToken, eventCallback, fromSlack, shown, slackDesk, type Desk } from './slack-desk.js'

/** A desk with one open handoff and its thread. */
async function opened(t: Parameters<typeof slackDesk>[0], handoffId: string, open = true) {
  const desk = await slackDesk(t)
  if (open) desk.gptbots.open.add(handoffId)
  await call(desk.app, 'conversation/establish', establishBody(handoffId))
  await desk.drain()
  const parent = desk.slack.parents(fakeChannel)[0]
  if (!parent) throw new Error('no thread was opened')
  return { ...desk, parent }
}

const humanReplies = (desk: Desk, parentTs: string) => desk.slack.replies(parentTs).filter(m => m.user)

t.test('GPTBots answering 503 and then hanging: the reply is retried with backoff until it goes, once', async t => {
  const desk = await opened(t, 'h-5xx')
  desk.gptbots.fail({ status: 503 }, { hang: true })
  const reply = desk.slack.humanReply(fakeChannel, desk.parent.ts, 'U0AGENT1', 'Looking into it')
  t.equal((await fromSlack(desk.app, 'events', eventCallback(reply))).statusCode, 200, 'Slack gets its 200 at once')
  await desk.drain()
  t.same(desk.gptbots.replies, [], '503: not delivered yet')
  const [pending] = await desk.app.relay.store.listDeliveries({ relay: '@gptbots' })
  t.match(pending, { status: 'pending', attempts: 1, lastError: /HTTP 503/ })
  desk.clock.advance(10_000)
  await desk.drain()
  t.same(desk.gptbots.replies, [], 'the next attempt hangs, and times out')
  t.match((await desk.app.relay.store.listDeliveries({ relay: '@gptbots' }))[0], { status: 'pending', attempts: 2 })
  desk.clock.advance(10_000)
  await desk.drain()
  t.same(
    desk.gptbots.replies.map(r => r.text),
    ['Looking into it']
  )
  await desk.until(() => humanReplies(desk, desk.parent.ts)[0]?.reactions !== undefined)
  t.same(humanReplies(desk, desk.parent.ts)[0]?.reactions, ['white_check_mark'])
  t.notMatch(
    JSON.stringify(await desk.app.relay.store.listDeliveries({})),
    /app-fake-gptbots-key/,
    'no stored error holds the API key'
  )
})

t.test('a reply GPTBots refuses is marked in the thread, kept as a dead letter, and replayed', async t => {
  const desk = await opened(t, 'h-dead', false)
  const reply = desk.slack.humanReply(fakeChannel, desk.parent.ts, 'U0AGENT1', 'Are you still there?')
  await fromSlack(desk.app, 'events', eventCallback(reply))
  await desk.until(() => humanReplies(desk, desk.parent.ts)[0]?.reactions !== undefined)
  await desk.until(() => /did not reach/.test(shown(desk.slack.replies(desk.parent.ts).at(-1)!)))
  t.same(desk.gptbots.replies, [])
  t.same(humanReplies(desk, desk.parent.ts)[0]?.reactions, ['warning'], 'the failed reply is marked')
  t.match(shown(desk.slack.replies(desk.parent.ts).at(-1)!), /did not reach the user.*dead letter/)
  const dead = await desk.app.inject({
    method: 'GET',
    url: '/admin/dead-letters?relay=%40gptbots',
    headers: { authorization: `Bearer ${adminToken}` }
  })
  const [letter] = dead.json().deadLetters
  t.match(letter, { relay: '@gptbots', lastError: /conversation not in human service/ })

  desk.gptbots.open.add('h-dead')
  const replay = await desk.app.inject({
    method: 'POST',
    url: `/admin/dead-letters/${letter.id}/replay`,
    headers: { authorization: `Bearer ${adminToken}` }
  })
  t.equal(replay.statusCode, 200)
  await desk.drain()
  await desk.drain()
  t.same(
    desk.gptbots.replies.map(r => r.text),
    ['Are you still there?'],
    'the replayed reply reached the user'
  )
  t.same(humanReplies(desk, desk.parent.ts)[0]?.reactions, ['warning', 'white_check_mark'])
})

t.test('only requests signed by Slack, recently, get in', async t => {
  const desk = await opened(t, 'h-sig')
  const reply = eventCallback(desk.slack.humanReply(fakeChannel, desk.parent.ts, 'U0AGENT1', 'forged'))
  const wrong = await fromSlack(desk.app, 'events', reply, { secret: 'another-secret-0123456789' })
  t.match(wrong, { statusCode: 401, headers: { 'x-relay-error': 'SIGNATURE_INVALID' } })
  t.same(wrong.json(), { code: 401, msg: 'the request signature does not match: check the signing secret' })
  const stale = await fromSlack(desk.app, 'events', reply, { at: Math.floor(Date.now() / 1000) - 301 })
  t.match(stale, { statusCode: 401, headers: { 'x-relay-error': 'SIGNATURE_STALE' } })
  const unsigned = await fromSlack(desk.app, 'events', reply, { unsigned: true })
  t.match(unsigned, { statusCode: 401, headers: { 'x-relay-error': 'SIGNATURE_MISSING' } })
  // The body changed after signing.
  const tampered = await desk.app.inject({
    method: 'POST',
    url: '/relays/slack.desk/events',
    headers: { ...(await signedHeaders(reply)), 'content-type': 'application/json' },
    payload: reply.replace('forged', 'forgex')
  })
  t.equal(tampered.statusCode, 401)
  const click = await fromSlack(desk.app, 'interactivity', 'payload=%7B%7D', { secret: 'another-secret-0123456789' })
  t.equal(click.statusCode, 401, 'the buttons are guarded too')
  await desk.drain()
  t.same(await desk.app.relay.store.listDeliveries({ relay: '@gptbots' }), [], 'nothing was stored')
  t.same(desk.gptbots.replies, [])

  const verification = await fromSlack(
    desk.app,
    'events',
    JSON.stringify({ token: 'x', challenge: 'c-123', type: 'url_verification' })
  )
  t.same(verification.json(), { challenge: 'c-123' }, "Slack's URL verification is answered")
})

async function signedHeaders(body: string) {
  const { slackSignature } = await import('../../plugins/slack/inbound/signature.js')
  const { signingSecret } = await import('./slack-desk.js')
  const at = Math.floor(Date.now() / 1000)
  return { 'x-slack-request-timestamp': String(at), 'x-slack-signature': slackSignature(signingSecret, at, body) }
}

t.test('only people replying in a handoff thread of the configured channel are heard', async t => {
  const desk = await opened(t, 'h-who')
  const base = { type: 'message', channel: fakeChannel, user: 'U0AGENT1', text: 'x', thread_ts: desk.parent.ts }
  const ignored = [
    { ...base, ts: '1.000001', channel: 'C0OTHER' },
    { ...base, ts: '1.000002', bot_id: 'B0FAKE', subtype: 'bot_message' },
    { ...base, ts: '1.000003', subtype: 'message_changed' },
    { ...base, ts: '1.000004', bot_id: 'B0OTHER' },
    { ...base, ts: desk.parent.ts },
    { ...base, ts: '1.000005', thread_ts: '1.999999' },
    { ...base, ts: '1.000006', thread_ts: undefined }
  ]
  for (const event of ignored) t.equal((await fromSlack(desk.app, 'events', eventCallback(event))).statusCode, 200)
  await desk.drain()
  t.same(await desk.app.relay.store.listDeliveries({ relay: '@gptbots' }), [])
  t.same(desk.slack.ephemerals, [])
})
