/**
 * Takes the screenshots in docs/screenshots/ from a real run: the relay with its real store,
 * dispatcher and Slack and Discord relays against the strict fakes in test/fakes, filled through
 * its webhook, and Debian's chromium looking at /ui. The clock is the only thing set by hand, so
 * that the delivered-per-minute chart has half an hour of history.
 *
 *   npm run build --silent && npx tsx scripts/ui-screenshots.ts
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { buildApp } from '../src/app.js'
import { resolveConfig } from '../src/config/load.js'
import { ManualClock } from '../test/helpers/clock.js'
import { ChannelType, FakeDiscord } from '../test/fakes/discord.js'
import { FakeSlack, fakeChannel, fakeToken } from '../test/fakes/slack.js'
import { ManualTimers } from '../test/ui/helpers.js'
import { launch } from '../test/ui/browser.js'

const ADMIN = 'screenshot-admin-token-0123'
const WEBHOOK = 'screenshot-webhook-token-0123'
const out = 'docs/screenshots'
mkdirSync(out, { recursive: true })
const dir = mkdtempSync(join(tmpdir(), 'relay-shots-'))

const clock = new ManualClock(Date.now() - 30 * 60_000)
const slack = await FakeSlack.start({ rateLimit: false, now: () => clock.now() })
const discord = await new FakeDiscord().start()
const channel = discord.addChannel(ChannelType.Text)
const timers = new ManualTimers()
const loaded = resolveConfig(
  {
    auth: { tokens: [WEBHOOK] },
    store: { driver: 'sqlite', path: join(dir, 'relay.db') },
    admin: { token: ADMIN },
    relays: {
      'slack.support': {
        type: 'slack',
        token: fakeToken,
        channel: fakeChannel,
        apiUrl: slack.apiUrl,
        pace: { intervalMs: 1, burst: 50 }
      },
      'discord.support': { type: 'discord', token: discord.token, channel: channel.id, apiUrl: discord.api }
    }
  },
  { configDir: process.cwd(), env: {} }
)
const app = await buildApp({
  loaded,
  clock,
  dispatch: 'manual',
  logger: pino({ level: 'silent' }),
  ui: { timers, sampleIntervalMs: 60_000, liveIntervalMs: 1000 }
})
await app.listen({ port: 0, host: '127.0.0.1' })
const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`

const post = (body: object, token = WEBHOOK) =>
  app.inject({
    method: 'POST',
    url: '/webhook',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    payload: JSON.stringify(body)
  })
let n = 0
const turn = (conversation: string, type: 'QUESTION' | 'ANSWER', text: string) =>
  post({
    message_id: `msg-${++n}`,
    message_type: type,
    conversation_id: conversation,
    text,
    create_time: Math.floor(clock.now() / 1000)
  })

const customers = ['ord-1042', 'ord-1043', 'refund-77', 'ticket-5521', 'ticket-5522', 'ticket-5530']
const questions = [
  'Where is my order? It said two days.',
  'Can I change the delivery address?',
  'How do I get a refund for a damaged item?'
]
const answers = [
  'Your parcel left the warehouse this morning; it should arrive tomorrow.',
  'Yes: reply with the new address and I will update it before dispatch.',
  'Sorry about that! I have opened a refund; you will get an email within the hour.'
]
// Half an hour of traffic, a few conversations a minute.
for (let minute = 0; minute < 30; minute++) {
  const count = 1 + ((minute * 7) % 5)
  for (let i = 0; i < count; i++) {
    const c = customers[(minute + i) % customers.length]!
    await turn(`${c}-${minute}`, 'QUESTION', questions[(minute + i) % 3]!)
    await turn(`${c}-${minute}`, 'ANSWER', answers[(minute + i) % 3]!)
  }
  await app.relay.dispatcher.drain()
  if (minute === 24) {
    // Slack says "slow down" once: the message waits for its Retry-After and goes out next minute.
    slack.rateLimitNext(1, 1)
    await turn('ord-1042-sale', 'QUESTION', 'Is the sale still on?')
    await app.relay.dispatcher.drain()
  }
  clock.advance(60_000)
  await app.relay.dispatcher.drain()
  timers.fire(60_000)
}
// A conversation with hostile text, shown as the text it is.
await turn(
  'ticket-<script>alert(1)</script>',
  'QUESTION',
  '<img src=x onerror=alert(1)> **is this bold?**\nSecond line.'
)
// A Slack channel that went away: its deliveries die, with Slack's error kept.
slack.channels[fakeChannel]!.error = 'channel_not_found'
await turn('vip-customer-9', 'QUESTION', 'Hello? Is anyone there?')
await turn('vip-customer-9', 'ANSWER', 'Hi! A human agent will join in a minute.')
await app.relay.dispatcher.drain()
delete slack.channels[fakeChannel]!.error
// One pending, for the backlog.
await turn('ord-2001', 'QUESTION', 'Just placed an order, can I add a gift note?')
// Some refused webhooks, for "refused by cause".
await post({ message_id: 'x' }, 'wrong-token-0123456789')
await post({ message_id: 'x' })
await post({ message_id: 'x' })
clock.advance(42_000)
timers.fire(60_000)

const browser = await launch()
const shoot = async (name: string, path: string, options: { dark?: boolean; phone?: boolean } = {}) => {
  const context = await browser.newContext({
    viewport: options.phone ? { width: 390, height: 844 } : { width: 1280, height: 800 },
    colorScheme: options.dark ? 'dark' : 'light',
    deviceScaleFactor: 1
  })
  const page = await context.newPage()
  await page.goto(`${base}/ui/login`)
  await page.getByLabel('Admin token').fill(ADMIN)
  if (path === '/ui/login') {
    await page.screenshot({ path: `${out}/${name}.png`, fullPage: true })
    await context.close()
    return
  }
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.getByRole('heading', { name: 'Overview' }).waitFor()
  await page.goto(`${base}${path}`)
  await page.getByText('Live updates on').waitFor()
  if (name.startsWith('confirm')) {
    await page.getByRole('button', { name: /Replay all of slack.support/ }).click()
    await page.getByRole('button', { name: 'Replay', exact: true }).waitFor()
  }
  // Long listings are cut at the window; the rest shows whole.
  await page.screenshot({ path: `${out}/${name}.png`, fullPage: !options.phone && !name.startsWith('conversations') })
  await context.close()
}
const conversation = `/ui/conversation?${new URLSearchParams({ source: 'default', id: 'vip-customer-9' })}`
await shoot('login', '/ui/login')
await shoot('overview', '/ui')
await shoot('overview-dark', '/ui', { dark: true })
await shoot('overview-phone', '/ui', { phone: true })
await shoot('overview-phone-dark', '/ui', { phone: true, dark: true })
await shoot('conversations', '/ui/conversations')
await shoot('conversations-dark', '/ui/conversations', { dark: true })
await shoot('conversations-phone', '/ui/conversations', { phone: true })
await shoot('conversation', conversation)
await shoot('conversation-dark', conversation, { dark: true })
await shoot('conversation-phone', conversation, { phone: true })
await shoot(
  'conversation-hostile',
  `/ui/conversation?${new URLSearchParams({ source: 'default', id: 'ticket-<script>alert(1)</script>' })}`
)
await shoot('dead-letters', '/ui/dead-letters?relay=slack.support')
await shoot('dead-letters-dark', '/ui/dead-letters?relay=slack.support', { dark: true })
await shoot('dead-letters-phone', '/ui/dead-letters?relay=slack.support', { phone: true })
await shoot('confirm', '/ui/dead-letters?relay=slack.support')

await browser.close()
await app.close()
await slack.close()
await discord.close()
rmSync(dir, { recursive: true, force: true })
console.log(`screenshots written to ${out}/`)
