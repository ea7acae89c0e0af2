import t from 'tap'
import { ChannelType, FakeDiscord } from '../fakes/discord.js'
import { FakeSlack, fakeChannel, fakeToken } from '../fakes/slack.js'
import { post, seed, testApp } from '../helpers/app.js'
import { until } from '../helpers/process.js'

// The real app (real store, real Slack and Discord SDKs, background dispatcher) against platforms that
// fail a share of calls with 5xx, rate-limit with 429, and go away entirely for a while. Every fault
// here happens before the platform does any work, so nothing may be lost, reordered or posted twice;
// only the relay pointed at a channel that does not exist dead-letters, and only with that error.

const CONVERSATIONS = 4
const PER_CONVERSATION = 15

/** A seeded generator, so the faults are the same on every run. */
function seeded(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let x = Math.imul(a ^ (a >>> 15), a | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

const marker = (conversation: string, n: number) => `[${conversation} n=${String(n).padStart(3, '0')}]`
const markers = (texts: string[], conversation: string) =>
  texts.flatMap(text => [
    ...new Set([...text.matchAll(new RegExp(`\\[${conversation} n=\\d{3}\\]`, 'g'))].map(m => m[0]))
  ])
const firstOccurrences = (items: string[]) => [...new Set(items)]

t.test(
  '5xx, 429 and an outage on Slack and Discord at once: everything arrives once, in order; only permanent errors dead-letter',
  async t => {
    const slack = await FakeSlack.start({ rateLimit: false })
    const discord = await new FakeDiscord().start()
    t.teardown(async () => {
      await slack.close()
      await discord.close()
    })
    const channel = discord.addChannel(ChannelType.Text)

    const app = await testApp(t, {
      dispatch: 'background',
      config: {
        dispatch: {
          concurrency: 4,
          maxAttempts: 200,
          backoffBaseMs: 10,
          backoffMaxMs: 200,
          pollIntervalMs: 50,
          deliveryTimeoutMs: 10000
        },
        relays: {
          'slack.support': {
            type: 'slack',
            token: fakeToken,
            channel: fakeChannel,
            apiUrl: slack.apiUrl,
            pace: { intervalMs: 1, burst: 50 }
          },
          'slack.gone': {
            type: 'slack',
            token: fakeToken,
            channel: 'C0NOTTHERE',
            apiUrl: slack.apiUrl,
            pace: { intervalMs: 1, burst: 50 }
          },
          'discord.support': { type: 'discord', token: discord.token, channel: channel.id, apiUrl: discord.api }
        }
      }
    })

    // Faults from now on (the relays started against healthy platforms).
    slack.failShare(0.25, seeded(1))
    discord.failRandomly(0.25, seeded(2))
    slack.rateLimitNext(4, 1)
    discord.rateLimitNext(4, { route: 'POST /channels/:id/messages', retryAfterMs: 300 })
    let slackDownUntil = 0
    let slackDropped = 0
    slack.on('chat.postMessage', () => {
      if (Date.now() >= slackDownUntil) return undefined
      slackDropped++
      return { destroy: true }
    })

    const conversations = Array.from({ length: CONVERSATIONS }, (_, c) => `conv-${c}`)
    for (let n = 0; n < PER_CONVERSATION; n++) {
      if (n === 5) {
        // Both platforms go away: Slack drops every connection for 1.5 s, Discord drops the next 30 requests.
        slackDownUntil = Date.now() + 1500
        discord.failNext(30, { drop: true })
      }
      for (const c of conversations) {
        const res = await post(
          app,
          seed({ conversation_id: c, message_id: `${c}-${n}`, text: `${marker(c, n)} hello`, flow_output: null })
        )
        t.equal(res.statusCode, 200, `${c} #${n} acknowledged`)
      }
      await new Promise(r => setTimeout(r, 40))
    }

    const total = CONVERSATIONS * PER_CONVERSATION * 3
    const settled = async () =>
      (await app.relay.store.listDeliveries({ limit: 1000 })).filter(d => d.status !== 'pending').length
    t.ok(
      await until(async () => (await settled()) >= total, 45000),
      `every delivery settled (${await settled()} of ${total})`
    )

    const deliveries = await app.relay.store.listDeliveries({ limit: 1000 })
    if (process.env.DEBUG_FAULTS) {
      const summary: Record<string, number> = {}
      for (const d of deliveries) summary[`${d.relay} ${d.status}`] = (summary[`${d.relay} ${d.status}`] ?? 0) + 1
      t.comment(JSON.stringify(summary))
      t.comment(JSON.stringify(deliveries.filter(d => d.status === 'pending').slice(0, 6)))
    }
    const dead = deliveries.filter(d => d.status === 'dead')
    t.ok(
      dead.every(d => d.relay === 'slack.gone'),
      `dead letters only for the missing channel: ${dead
        .filter(d => d.relay !== 'slack.gone')
        .map(d => `${d.relay} ${d.lastError}`)
        .join('; ')}`
    )
    t.equal(dead.length, CONVERSATIONS * PER_CONVERSATION, 'every delivery to the missing channel is dead')
    t.ok(
      dead.every(d => /channel_not_found/.test(d.lastError ?? '')),
      `with the permanent error: ${[...new Set(dead.map(d => d.lastError))].join('; ')}`
    )
    t.equal(
      deliveries.filter(d => d.status === 'delivered').length,
      CONVERSATIONS * PER_CONVERSATION * 2,
      'everything else delivered'
    )

    // The faults really happened.
    const failedSlack = slack.calls.filter(c => c.method === 'chat.postMessage' && c.status >= 500).length
    const limitedSlack = slack.calls.filter(c => c.status === 429).length
    const failedDiscord = discord.requests.filter(r => r.status >= 500 || r.status === 0).length
    const limitedDiscord = discord.requests.filter(r => r.status === 429).length
    t.ok(slackDropped > 0, `Slack dropped ${slackDropped} connections while it was away`)
    t.ok(failedSlack > 0 && limitedSlack > 0, `Slack failed ${failedSlack} calls and rate-limited ${limitedSlack}`)
    t.ok(
      failedDiscord > 0 && limitedDiscord > 0,
      `Discord failed ${failedDiscord} requests and rate-limited ${limitedDiscord}`
    )

    const inSlack = slack.messages.filter(m => m.channel === fakeChannel).map(m => JSON.stringify(m))
    const inDiscord = discord.messages.map(m => `${m.content ?? ''} ${JSON.stringify(m.embeds)}`)
    for (const c of conversations) {
      const expected = Array.from({ length: PER_CONVERSATION }, (_, n) => marker(c, n))
      for (const [platform, texts] of [
        ['Slack', inSlack],
        ['Discord', inDiscord]
      ] as const) {
        const seen = markers(texts, c)
        t.same(firstOccurrences(seen), expected, `${c}: every message in ${platform}, in order`)
        t.equal(seen.length, expected.length, `${c}: nothing posted twice in ${platform}`)
      }
    }
    t.equal(slack.parents().filter(m => !m.thread_ts).length, CONVERSATIONS, 'one Slack thread per conversation')
    t.equal(discord.threadsOf(channel.id).length, CONVERSATIONS, 'one Discord thread per conversation')
  }
)
