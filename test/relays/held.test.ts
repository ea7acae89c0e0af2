import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import type { Test } from 'tap'
import t from 'tap'
import { buildApp } from '../../src/app.js'
import { loadConfigFile } from '../../src/config/load.js'
import { ManualClock } from '../helpers/clock.js'
import { createLogger } from '../../src/ops/logging.js'
import { ChannelType, FakeDiscord } from '../fakes/discord.js'
import { FakeSlack, allScopes, fakeChannel, fakeToken, shownMarkdown } from '../fakes/slack.js'
import { TOKEN, post, seed } from '../helpers/app.js'

const ADMIN = 'admin-token-0123456789'

/** The real app from a config file a test rewrites, logging JSON lines into `lines`. */
async function relayApp(t: Test, relays: Record<string, unknown>) {
  const dir = t.testdir({})
  const file = join(dir, 'relay.json')
  const write = (relayEntries: Record<string, unknown>) =>
    writeFileSync(
      file,
      JSON.stringify({
        auth: { tokens: [TOKEN] },
        admin: { token: ADMIN },
        store: { driver: 'sqlite', path: join(dir, 'relay.db') },
        log: { level: 'debug', format: 'json' },
        relays: relayEntries
      })
    )
  write(relays)
  const loaded = loadConfigFile(file, {})
  const lines: string[] = []
  const logger = createLogger(loaded.config, {
    destination: {
      write(line: string) {
        lines.push(line)
      }
    }
  })
  const clock = new ManualClock()
  const app = await buildApp({ loaded, logger, clock, dispatch: 'manual' })
  t.teardown(() => app.close())
  const logs = () => lines.map(line => JSON.parse(line) as Record<string, unknown> & { msg: string; level: number })
  return { app, clock, write, logs }
}

const send = (app: FastifyInstance, conversation: string, n: number) =>
  post(
    app,
    seed({
      message_id: `${conversation}-m${n}`,
      conversation_id: conversation,
      text: `${conversation} #${n}`,
      flow_output: []
    })
  )

async function deliveries(app: FastifyInstance) {
  return app.relay.store.listDeliveries({ limit: 1000 })
}

async function heldGauge(app: FastifyInstance, relay: string): Promise<string | undefined> {
  const text = (await app.inject({ method: 'GET', url: '/metrics' })).body
  return new RegExp(`^gptbots_relay_relay_held\\{relay="${relay.replace('.', '\\.')}"\\} (\\d)$`, 'm').exec(text)?.[1]
}

t.test(
  'Slack refuses the token: every delivery is held, nothing dead, said once; a reload with the right token delivers all in order',
  async t => {
    const fake = await FakeSlack.start({ rateLimit: false })
    t.teardown(() => fake.close())
    const entry = { type: 'slack', channel: fakeChannel, apiUrl: fake.apiUrl, pace: { intervalMs: 0, burst: 1 } }
    const { app, write, logs } = await relayApp(t, { 'slack.support': { ...entry, token: 'xoxb-wrong-token' } })

    for (const conversation of ['a', 'b'])
      for (let n = 1; n <= 3; n++) t.equal((await send(app, conversation, n)).statusCode, 200)
    await app.relay.dispatcher.drain()

    const posts = fake.callsOf('chat.postMessage').length
    t.ok(posts >= 1 && posts <= 2, `at most one try per lane before the hold (${posts})`)
    const stored = await deliveries(app)
    t.equal(stored.length, 6)
    t.ok(
      stored.every(d => d.status === 'pending' && d.attempts === 0),
      'nothing dead-lettered, no attempt counted'
    )
    t.same(
      logs().filter(l => l.msg === 'dead-lettered'),
      []
    )
    const heldLines = logs().filter(l => /is held/.test(l.msg))
    t.equal(heldLines.length, 1, 'said once, not once per message')
    t.match(heldLines[0], {
      level: 50,
      relay: 'slack.support',
      msg: /Slack rejected the token: check "token".*reload the config/
    })

    const ready = await app.inject({ method: 'GET', url: '/readyz' })
    t.equal(ready.statusCode, 503)
    t.match(ready.json().relays['slack.support'], /^held since .*: Slack rejected the token/)
    t.equal(await heldGauge(app, 'slack.support'), '1')

    // The lanes are paused: draining again tries nothing.
    await app.relay.dispatcher.drain()
    t.equal(fake.callsOf('chat.postMessage').length, posts, 'no further tries while held')

    write({ 'slack.support': { ...entry, token: fakeToken } })
    const reload = await app.inject({
      method: 'POST',
      url: '/admin/reload',
      headers: { authorization: `Bearer ${ADMIN}` }
    })
    t.equal(reload.statusCode, 200, reload.body)
    await app.relay.dispatcher.drain()

    for (const conversation of ['a', 'b']) {
      const parent = fake.parents().find(p => fake.replies(p.ts).some(r => shownMarkdown(r).startsWith(conversation)))
      t.ok(parent, `conversation ${conversation} has its thread`)
      // A backlog goes out combined (#15): several messages to a reply, one to a line, in order.
      t.same(
        fake.replies(parent!.ts).flatMap(r => shownMarkdown(r).split('\n')),
        [1, 2, 3].map(n => `${conversation} #${n}`),
        `conversation ${conversation} in order`
      )
    }
    t.ok((await deliveries(app)).every(d => d.status === 'delivered'))
    t.equal(logs().filter(l => /no longer held/.test(l.msg)).length, 1)
    t.equal(await heldGauge(app, 'slack.support'), '0')
    const after = await app.inject({ method: 'GET', url: '/readyz' })
    t.equal(after.statusCode, 200, after.body)
  }
)

t.test('a token fixed on the platform side is picked up by the periodic re-check, one probe at a time', async t => {
  const fake = await FakeSlack.start({ rateLimit: false, tokens: { [fakeToken]: { error: 'token_revoked' } } })
  t.teardown(() => fake.close())
  const { app, clock, logs } = await relayApp(t, {
    'slack.support': {
      type: 'slack',
      token: fakeToken,
      channel: fakeChannel,
      apiUrl: fake.apiUrl,
      pace: { intervalMs: 0, burst: 1 }
    }
  })
  for (const conversation of ['a', 'b', 'c']) await send(app, conversation, 1)
  await app.relay.dispatcher.drain()
  const before = fake.callsOf('chat.postMessage').length

  clock.advance(60_000)
  await app.relay.dispatcher.drain()
  t.equal(fake.callsOf('chat.postMessage').length, before + 1, 'one delivery tries, not every lane')
  t.ok((await deliveries(app)).every(d => d.status === 'pending' && d.attempts === 0))
  t.equal(logs().filter(l => /is held/.test(l.msg)).length, 1, 'a failed re-check is not logged again')

  // The app is reinstalled: the same token works now.
  fake.tokens[fakeToken] = { scopes: allScopes }
  clock.advance(59_999)
  await app.relay.dispatcher.drain()
  t.equal(fake.callsOf('chat.postMessage').length, before + 1, 'not before the re-check is due')
  clock.advance(1)
  await app.relay.dispatcher.drain()
  t.ok(
    (await deliveries(app)).every(d => d.status === 'delivered'),
    'all delivered'
  )
  t.equal(logs().filter(l => /no longer held/.test(l.msg)).length, 1)
})

t.test('Discord answers 401: held, then delivered after a reload with the right token', async t => {
  const fake = await new FakeDiscord().start()
  t.teardown(() => fake.close())
  const channel = fake.addChannel(ChannelType.Text)
  const entry = { type: 'discord', channel: channel.id, apiUrl: fake.api, mode: 'channel' }
  const { app, write, logs } = await relayApp(t, { discord: { ...entry, token: 'wrong-bot-token' } })
  for (let n = 1; n <= 3; n++) await send(app, 'a', n)
  await app.relay.dispatcher.drain()
  t.ok((await deliveries(app)).every(d => d.status === 'pending' && d.attempts === 0))
  t.match(
    logs().filter(l => /is held/.test(l.msg)),
    [{ relay: 'discord', msg: /Discord rejected the bot token; reset it/ }]
  )
  t.match((await app.inject({ method: 'GET', url: '/readyz' })).json().relays.discord, /^held since/)

  write({ discord: { ...entry, token: fake.token } })
  t.match(await app.relay.reload!(), { ok: true })
  await app.relay.dispatcher.drain()
  // Combined (#15): the three may share a message, each after its speaker line; in order either way.
  t.same(
    fake.messagesIn(channel.id).flatMap(m => m.content?.match(/a #\d/g) ?? []),
    ['a #1', 'a #2', 'a #3']
  )
})

t.test('a reload that does not fix the token says so, once', async t => {
  const fake = await FakeSlack.start({ rateLimit: false })
  t.teardown(() => fake.close())
  const entry = { type: 'slack', channel: fakeChannel, apiUrl: fake.apiUrl, pace: { intervalMs: 0, burst: 1 } }
  const { app, write, logs } = await relayApp(t, { 'slack.support': { ...entry, token: 'xoxb-wrong-token' } })
  await send(app, 'a', 1)
  await app.relay.dispatcher.drain()
  write({ 'slack.support': { ...entry, token: 'xoxb-still-wrong' } })
  t.match(await app.relay.reload!(), { ok: true })
  await app.relay.dispatcher.drain()
  t.equal(logs().filter(l => /still held after the config reload/.test(l.msg)).length, 1)
  t.equal((await deliveries(app))[0]?.status, 'pending')
})
