import t from 'tap'
import { FakeDiscord } from '../../fakes/discord.js'
import { deskScene, establish } from './fixtures.js'
import { deliveryContext } from '../../helpers/relay.js'
import { deliverOne } from '../../../src/relays/run-adapter.js'

const fake = await new FakeDiscord().start()
t.teardown(() => fake.close())

const agent = { id: '200000000000000002', username: 'ann', global_name: 'Ann Agent' }

/** A scene with the handoff's thread up, and its opening post. */
async function opened(extra: Record<string, unknown> = {}) {
  const scene = await deskScene(fake, extra)
  await deliverOne(scene.relay, scene.message(establish()), deliveryContext(scene.state))
  const thread = fake.threadsOf(scene.channel.id)[0]!
  const opening = fake.messagesIn(thread.id)[0]!
  const button = (label: string) => opening.components![0]!.components.find(b => b.label!.startsWith(label))!.custom_id!
  return { ...scene, thread, opening, button }
}

t.test('Discord accepts the endpoint: a PING gets a PONG and a forged one a 401', async t => {
  const scene = await deskScene(fake)
  t.teardown(scene.close)
  t.ok(await fake.acceptsEndpoint(scene.endpoint.url))
})

t.test('unsigned, forged and stale interactions get a 401 envelope and do nothing', async t => {
  const s = await opened()
  t.teardown(s.close)
  const other = (await import('node:crypto')).generateKeyPairSync('ed25519')
  const stale = String(Math.floor(Date.now() / 1000) - 600)
  const cases = [
    ['unsigned', { signature: null }, 'SIGNATURE_MISSING'],
    ['signed by another key', { key: other.privateKey }, 'SIGNATURE_INVALID'],
    ['signed over another body', { signedBody: '{"type":1}' }, 'SIGNATURE_INVALID'],
    ['signed ten minutes ago', { timestamp: stale }, 'SIGNATURE_STALE']
  ] as const
  for (const [what, options, code] of cases) {
    const result = await fake.click(s.endpoint.url, s.opening.id, s.button('Claim'), { user: agent, ...options })
    t.equal(result.status, 401, what)
    t.equal(result.body.code, 401, `${what}: the envelope`)
    t.type(result.body.msg, 'string')
    t.notOk(JSON.stringify(result.body).includes('at '), `${what}: no stack`)
    t.equal(result.errorCode, code, `${what}: ${code}`)
  }
  t.same(s.memory.claims, [], 'no claim was made')
})

t.test('Claim: stored, told to the clicker only; the claim message shows who, and the button says so', async t => {
  const s = await opened()
  t.teardown(s.close)
  const result = await fake.click(s.endpoint.url, s.opening.id, s.button('Claim'), { user: agent })
  t.equal(result.status, 200)
  t.equal(result.body.type, 4)
  t.equal(result.body.data.flags, 64, 'ephemeral')
  t.same(s.memory.claims, [{ ...s.ref, author: { id: agent.id, name: 'Ann Agent' } }])
  // The core sends every desk relay a claim message.
  await deliverOne(
    s.relay,
    s.message({ kind: 'claim', author: { id: agent.id, name: 'Ann Agent' } }),
    deliveryContext(s.state)
  )
  t.match(fake.messagesIn(s.thread.id).at(-1)!.content, /Ann Agent\*\* claimed this handoff/)
  const claim = s.opening.components![0]!.components[0]!
  t.equal(claim.label, 'Claimed by Ann Agent')
  t.equal(claim.disabled, true)
  const again = await fake.click(s.endpoint.url, s.opening.id, s.button('Reply'), { user: agent })
  t.equal(again.body.type, 9, 'the other buttons still work')
})

t.test('a second claim is told who has it', async t => {
  const s = await opened()
  t.teardown(s.close)
  await fake.click(s.endpoint.url, s.opening.id, s.button('Claim'), { user: agent })
  const second = await fake.click(s.endpoint.url, s.opening.id, s.button('Claim'), {
    user: { id: '300000000000000003', username: 'bob' }
  })
  t.equal(second.body.data.flags, 64)
  t.match(second.body.data.content, /Already claimed by Ann Agent/)
})

t.test('Reply opens a modal; its submission is stored, then shown; the receipt marks it', async t => {
  const s = await opened()
  t.teardown(s.close)
  const modal = await fake.click(s.endpoint.url, s.opening.id, s.button('Reply'), { user: agent })
  t.equal(modal.body.type, 9)
  t.equal(modal.interaction!.modal!.inputs[0].style, 2, 'a paragraph input')
  const submitted = await fake.submit(s.endpoint.url, modal, { text: 'Your parcel ships today. @everyone' })
  t.equal(submitted.status, 200)
  t.equal(submitted.body.type, 4, 'shown in the thread for everyone')
  t.equal(s.memory.replies.length, 1, 'stored before the answer')
  const reply = s.memory.replies[0]!
  t.equal(reply.text, 'Your parcel ships today. @everyone')
  t.same(reply.author, { id: agent.id, name: 'Ann Agent' })
  t.equal(reply.replyId, submitted.interaction!.id)
  const shown = fake.answersIn(s.thread.id).at(-1)!
  t.notOk(shown.ephemeral)
  t.match(shown.embeds[0]!.description, /ships today/)
  t.match(shown.embeds[0]!.footer!.text, /On its way/)
  t.same(shown.pinged, [], 'the reply pings nobody')

  // The core delivered it to GPTBots and sends the desk the receipt.
  const receipt = await deliverOne(
    s.relay,
    s.message({ kind: 'receipt', replyMessageId: 'reply:discord.desk:1', status: 'delivered', ref: reply.ref }),
    deliveryContext(s.state)
  )
  t.equal(receipt.status, 'delivered')
  t.match(shown.embeds[0]!.footer!.text, /Reached the user/)
  t.same(shown.reactions, ['✅'])
})

t.test('a dead reply is marked with the reason, and a replay marks it reached', async t => {
  const s = await opened()
  t.teardown(s.close)
  const modal = await fake.click(s.endpoint.url, s.opening.id, s.button('Reply'), { user: agent })
  await fake.submit(s.endpoint.url, modal, { text: 'hello' })
  const ref = s.memory.replies[0]!.ref
  await deliverOne(
    s.relay,
    s.message({ kind: 'receipt', replyMessageId: 'r1', status: 'dead', error: 'GPTBots answered 503', ref }),
    deliveryContext(s.state)
  )
  const shown = fake.answersIn(s.thread.id).at(-1)!
  t.match(shown.embeds[0]!.footer!.text, /Did not reach the user: GPTBots answered 503\. Kept as a dead letter/)
  t.same(shown.reactions, ['⚠️'])
  await deliverOne(
    s.relay,
    s.message({ kind: 'receipt', replyMessageId: 'r1', status: 'delivered', ref }),
    deliveryContext(s.state)
  )
  t.match(shown.embeds[0]!.footer!.text, /Reached the user/)
})

t.test('after 15 minutes the receipt is a new message in the thread', async t => {
  const s = await opened()
  t.teardown(s.close)
  const modal = await fake.click(s.endpoint.url, s.opening.id, s.button('Reply'), { user: agent })
  const submitted = await fake.submit(s.endpoint.url, modal, { text: 'late one' })
  submitted.interaction!.at -= 16 * 60_000
  const message = s.message({
    kind: 'receipt',
    replyMessageId: 'r2',
    status: 'delivered',
    ref: s.memory.replies[0]!.ref
  })
  t.equal((await deliverOne(s.relay, message, deliveryContext(s.state))).status, 'delivered')
  t.match(
    fake.messagesIn(s.thread.id).at(-1)!.content,
    /✅ The reply by \*\*Ann Agent\*\* reached the user:\n> late one/
  )
  t.equal(
    fake.requests.filter(r => r.route === 'PATCH /webhooks/:id/:token/messages/:id').at(-1)!.status,
    401,
    'the edit was tried first'
  )
})

t.test('Close is stored; the close message shows it and greys out every button', async t => {
  const s = await opened()
  t.teardown(s.close)
  const result = await fake.click(s.endpoint.url, s.opening.id, s.button('Close'), { user: agent })
  t.equal(result.body.data.flags, 64)
  t.same(s.memory.closes, [{ ...s.ref, author: { id: agent.id, name: 'Ann Agent' } }])
  await deliverOne(
    s.relay,
    s.message({ kind: 'close', reason: 'AGENT', author: { id: agent.id, name: 'Ann Agent' } }),
    deliveryContext(s.state)
  )
  t.match(fake.messagesIn(s.thread.id).at(-1)!.content, /Handoff closed by Ann Agent/)
  t.ok(s.opening.components![0]!.components.every(b => b.disabled))
})

t.test("GPTBots' own close is shown", async t => {
  for (const [reason, said] of [
    ['TIMEOUT', /timed out/],
    ['USER_CLOSED', /the user ended it/]
  ] as const) {
    const s = await opened()
    t.teardown(s.close)
    await deliverOne(s.relay, s.message({ kind: 'close', reason }), deliveryContext(s.state))
    t.match(fake.messagesIn(s.thread.id).at(-1)!.content, said, reason)
    t.ok(s.opening.components![0]!.components.every(b => b.disabled))
  }
})

t.test('a reply to a closed handoff is refused, ephemerally, saying why, and not stored', async t => {
  const s = await opened()
  t.teardown(s.close)
  const modal = await fake.click(s.endpoint.url, s.opening.id, s.button('Reply'), { user: agent })
  s.memory.closeBy(s.ref, 'USER_CLOSED')
  const submitted = await fake.submit(s.endpoint.url, modal, { text: 'too late' })
  t.equal(submitted.body.type, 4)
  t.equal(submitted.body.data.flags, 64, 'only the writer sees it')
  t.match(submitted.body.data.content, /Not sent: this handoff is closed \(the user ended it\)/)
  t.match(submitted.body.data.content, /too late/, 'the text is given back')
  t.same(s.memory.replies, [])
  const again = await fake.click(s.endpoint.url, s.opening.id, s.button('Reply'), { user: agent })
  t.equal(again.body.data.flags, 64, 'Reply on a closed handoff opens no modal')
  t.match(again.body.data.content, /closed \(the user ended it\)/)
})

t.test('a store that is down: the writer is told nothing was sent, and gets the text back', async t => {
  const s = await opened()
  t.teardown(s.close)
  const modal = await fake.click(s.endpoint.url, s.opening.id, s.button('Reply'), { user: agent })
  s.memory.fail(1)
  const submitted = await fake.submit(s.endpoint.url, modal, { text: 'keep me' })
  t.equal(submitted.body.data.flags, 64)
  t.match(submitted.body.data.content, /could not store this just now; nothing was sent/)
  t.match(submitted.body.data.content, /keep me/)
  t.same(s.memory.replies, [])
})

t.test('buttons from another guild or another channel do nothing', async t => {
  const s = await opened()
  t.teardown(s.close)
  const foreign = await fake.click(s.endpoint.url, s.opening.id, s.button('Claim'), {
    user: agent,
    guildId: '400000000000000004'
  })
  t.equal(foreign.body.data.flags, 64)
  t.match(foreign.body.data.content, /only acts on buttons in its own handoff threads/)
  // The same buttons on a message in another channel (a copy, or another handoff's thread).
  const elsewhere = fake.addChannel(0)
  const copy = await fake.interact(
    s.endpoint.url,
    fake.payload(3, {
      channelId: elsewhere.id,
      user: agent,
      data: { component_type: 2, custom_id: s.button('Close') }
    })
  )
  t.match(copy.body.data.content, /only acts on buttons in its own handoff threads/)
  t.same(s.memory.claims, [])
  t.same(s.memory.closes, [])
})

t.test('buttons that are not the desk', async t => {
  const s = await opened()
  t.teardown(s.close)
  const result = await fake.interact(
    s.endpoint.url,
    fake.payload(3, { channelId: s.thread.id, user: agent, data: { component_type: 2, custom_id: 'something:else' } })
  )
  t.equal(result.body.data.flags, 64)
  const bad = await fake.interact(s.endpoint.url, { type: 99, id: '1', token: 'x' })
  t.equal(bad.status, 400)
  t.equal(bad.body.code, 400)
})

t.test('a click right after the thread appears acts, before the desk has stored which thread it is', async t => {
  const s = await opened()
  t.teardown(s.close)
  s.memory.links.delete(`thread:${s.thread.id}`)
  const result = await fake.click(s.endpoint.url, s.opening.id, s.button('Reply'), { user: agent })
  t.equal(result.body.type, 9, 'the modal opens')
})

t.test('mode channel: the opening post and its buttons sit in the channel, and act there', async t => {
  const scene = await deskScene(fake, { mode: 'channel' })
  t.teardown(scene.close)
  await deliverOne(scene.relay, scene.message(establish()), deliveryContext(scene.state))
  t.equal(fake.threadsOf(scene.channel.id).length, 0, 'no thread')
  const opening = fake.messagesIn(scene.channel.id)[0]!
  t.match(opening.content, /A human is needed/)
  const reply = opening.components![0]!.components.find(b => b.label === 'Reply')!.custom_id!
  const modal = await fake.click(scene.endpoint.url, opening.id, reply, { user: agent })
  t.equal(modal.body.type, 9)
  await fake.submit(scene.endpoint.url, modal, { text: 'from the channel' })
  t.equal(scene.memory.replies[0]?.text, 'from the channel')
  // A thread under the channel is not the desk's place in mode channel.
  const thread = fake.addChannel(11, { parent_id: scene.channel.id })
  const stray = await fake.interact(
    scene.endpoint.url,
    fake.payload(3, { channelId: thread.id, user: agent, data: { component_type: 2, custom_id: reply } })
  )
  t.match(stray.body.data.content, /only acts on buttons in its own handoff threads/)
})

t.test('a reply that starts with the note marker is shown as a note for the team and is not stored', async t => {
  const s = await opened()
  t.teardown(s.close)
  t.match(s.opening.content, /starts with `\/\/` is an internal note/, 'the banner shows the marker')
  t.match(s.opening.content, /messages and files posted straight into this thread stay here/, 'and what is not sent')
  const modal = await fake.click(s.endpoint.url, s.opening.id, s.button('Reply'), { user: agent })
  const submitted = await fake.submit(s.endpoint.url, modal, { text: '// refund approved by finance' })
  t.equal(submitted.body.type, 4)
  t.notOk(submitted.body.data.flags, 'the team sees it in the thread')
  t.match(submitted.body.data.content, /Note by Ann Agent.*not sent to the user/)
  t.match(submitted.body.data.embeds[0].description, /refund approved/)
  t.same(s.memory.replies, [], 'nothing for GPTBots')
})
