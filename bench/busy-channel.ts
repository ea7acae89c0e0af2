/*
 * Busy channel (#15): twelve conversations sending three messages a second in all, for 60 s,
 * through the real built relay (dist/src/cli.js) into a strict fake that allows one post a second
 * per channel with a burst of 3 and answers 429 with Retry-After beyond. Measures what users see:
 * lost, out of order, conversations split over threads, 429s as a share of posts, and the lag from
 * the webhook's 200 to the message being accepted by the fake.
 *
 *   npm run build && npx tsx bench/busy-channel.ts [slack] [slack3] [discord] [discord-channel]
 *
 * BENCH_BUSY_S (60), BENCH_BUSY_RATE (3 msg/s) and BENCH_BUSY_CONVERSATIONS (12) change the load;
 * BENCH_BUSY_THREAD_START=message runs the Slack relay with threadStart "message" (default "title").
 */
import { cpus, loadavg } from 'node:os'
import { ChannelType, FakeDiscord } from '../test/fakes/discord.js'
import { FakeSlack, fakeToken, type FakeChannel } from '../test/fakes/slack.js'
import { AUTH, baseConfig, f, percentile, sleep, startRelay, tempDir } from './lib.js'

const seconds = Number(process.env.BENCH_BUSY_S ?? 60)
const rate = Number(process.env.BENCH_BUSY_RATE ?? 3)
const conversations = Number(process.env.BENCH_BUSY_CONVERSATIONS ?? 12)
const drainS = 60

const chosen = new Set(process.argv.slice(2))
const wants = (name: string) => chosen.size === 0 || chosen.has(name)

/** A webhook body whose text carries the message id, so that the fake's posts can be matched. */
function body(messageId: string, conversationId: string, n: number): string {
  return JSON.stringify({
    message_id: messageId,
    message_type: n % 2 === 0 ? 'QUESTION' : 'ANSWER',
    text: `Turn ${n} of the conversation: a short answer of a sentence or two. [${messageId}]`,
    create_time: Math.floor(Date.now() / 1000),
    conversation_id: conversationId
  })
}

interface Seen {
  /** message id → when the fake accepted the post holding it */
  at: Map<string, number>
  /** message id → where it went (channel/thread), per accepted post */
  where: Map<string, string[]>
  /** message ids in the order the fake accepted them */
  order: string[]
  accepted: number
  limited: number
  /** Slack: thread parents posted, and how many of them held turns (message mode, or a busy channel in title mode). */
  parents?: { all: number; withTurns: number }
}

/** Sends the load and waits until every message is seen (or the drain time is up). */
async function drive(url: string, seen: () => Seen, tag: string) {
  const sent = new Map<string, number>()
  const byConversation = new Map<string, string[]>()
  const total = Math.round(seconds * rate)
  const begin = Date.now()
  const pending: Promise<void>[] = []
  for (let i = 0; i < total; i++) {
    const due = begin + (i * 1000) / rate
    if (due > Date.now()) await sleep(due - Date.now())
    const conversation = `${tag}-conv-${i % conversations}`
    const id = `${tag}-m-${i}`
    const turn = Math.floor(i / conversations)
    pending.push(
      fetch(`${url}/webhook`, { method: 'POST', headers: AUTH, body: body(id, conversation, turn) }).then(
        async response => {
          await response.text()
          if (response.status !== 200) throw new Error(`webhook answered ${response.status}`)
          // Lag counts from the 200: what the sender knows as accepted.
          sent.set(id, Date.now())
        }
      )
    )
    byConversation.set(conversation, [...(byConversation.get(conversation) ?? []), id])
  }
  await Promise.all(pending)
  const deadline = Date.now() + drainS * 1000
  while (seen().at.size < total && Date.now() < deadline) await sleep(250)
  return { sent, byConversation, total }
}

function report(name: string, result: Awaited<ReturnType<typeof drive>>, seen: Seen) {
  const { sent, byConversation, total } = result
  const lost = total - [...sent.keys()].filter(id => seen.at.has(id)).length
  let outOfOrder = 0
  let split = 0
  const position = new Map(seen.order.map((id, i) => [id, i]))
  for (const ids of byConversation.values()) {
    const places = ids.map(id => position.get(id)).filter((p): p is number => p !== undefined)
    for (let i = 1; i < places.length; i++) if ((places[i] as number) < (places[i - 1] as number)) outOfOrder++
    const threads = new Set(ids.flatMap(id => seen.where.get(id) ?? []))
    if (threads.size > 1) split++
  }
  const lags = [...sent].filter(([id]) => seen.at.has(id)).map(([id, at]) => ((seen.at.get(id) as number) - at) / 1000)
  const posts = seen.accepted + seen.limited
  console.log(`\n### ${name}`)
  console.log(
    `${total} messages over ${conversations} conversations at ${rate}/s for ${seconds} s: lost ${lost}, out of order ${outOfOrder}, conversations split over threads ${split}`
  )
  console.log(
    `posts accepted ${seen.accepted} (thread parents included), 429s ${seen.limited} = ${f((100 * seen.limited) / Math.max(1, posts), 2)}% of post calls`
  )
  if (seen.parents)
    console.log(`thread parents ${seen.parents.all}, ${seen.parents.withTurns} of them holding the first turns`)
  console.log(
    `lag 200 → visible: p50 ${f(percentile(lags, 50))} s, p95 ${f(percentile(lags, 95))} s, max ${f(Math.max(...lags))} s   (targets: 0/0/0, 429s < 1%, p95 ≤ 15 s, max ≤ 25 s)`
  )
}

/** Every message id a post carries, wherever the relay put the text. */
const idsIn = (params: unknown, tag: string) =>
  [...JSON.stringify(params).matchAll(new RegExp(`${tag}-m-\\d+`, 'g'))].map(m => m[0])

async function slack(channelCount: number) {
  const tag = `busy${channelCount}`
  const ids = Array.from({ length: channelCount }, (_, i) => `C0BUSY${i}`)
  const channels: Record<string, FakeChannel> = Object.fromEntries(ids.map(id => [id, { name: id.toLowerCase() }]))
  const fake = await FakeSlack.start({ rateLimit: { intervalMs: 1000, burst: 3 }, channels })
  const relay = {
    type: 'slack',
    token: fakeToken,
    apiUrl: fake.apiUrl,
    ...(channelCount === 1 ? { channel: ids[0] } : { channels: ids }),
    ...(process.env.BENCH_BUSY_THREAD_START ? { threadStart: process.env.BENCH_BUSY_THREAD_START } : {})
  }
  const dir = tempDir('busy')
  const running = await startRelay(dir, baseConfig({ driver: 'sqlite', path: './relay.db' }, { 'slack.busy': relay }))
  const seen = (): Seen => {
    const s: Seen = { at: new Map(), where: new Map(), order: [], accepted: 0, limited: 0 }
    for (const call of fake.callsOf('chat.postMessage')) {
      if (call.status === 429) s.limited++
      if (call.status !== 200 || !(call.body as { ok?: boolean }).ok) continue
      s.accepted++
      const { channel, ts } = call.body as { channel: string; ts: string }
      if (call.params.thread_ts === undefined) {
        s.parents ??= { all: 0, withTurns: 0 }
        s.parents.all++
        if (idsIn(call.params.blocks ?? call.params.text, tag).length > 0) s.parents.withTurns++
      }
      const thread = `${channel}/${(call.params.thread_ts as string | undefined) ?? ts}`
      for (const id of idsIn(call.params.blocks ?? call.params.text, tag)) {
        if (!s.at.has(id)) {
          s.at.set(id, call.at ?? Date.now())
          s.order.push(id)
        }
        s.where.set(id, [...(s.where.get(id) ?? []), thread])
      }
    }
    return s
  }
  try {
    const result = await drive(running.url, seen, tag)
    report(
      channelCount === 1 ? 'Slack, one channel' : `Slack, ${channelCount} channels given to one relay`,
      result,
      seen()
    )
  } finally {
    await running.stop()
    await fake.close()
  }
}

async function discord(mode: 'forum' | 'channel') {
  const tag = `busyd${mode}`
  // Discord's per-channel bucket: 5 posts per 5 s, for the forum and for each of its posts, or
  // for the one text channel that every conversation shares in channel mode.
  const fake = await new FakeDiscord({ bucketLimit: 5, bucketWindowMs: 5000 }).start()
  const target = fake.addChannel(mode === 'forum' ? ChannelType.Forum : ChannelType.Text)
  const relay = { type: 'discord', token: fake.token, channel: target.id, mode, apiUrl: fake.api }
  const dir = tempDir(tag)
  const running = await startRelay(dir, baseConfig({ driver: 'sqlite', path: './relay.db' }, { 'discord.busy': relay }))
  const seen = (): Seen => {
    const s: Seen = { at: new Map(), where: new Map(), order: [], accepted: 0, limited: 0 }
    s.limited = fake.requests.filter(r => r.method === 'POST' && r.status === 429).length
    for (const message of fake.messages) {
      s.accepted++
      for (const id of idsIn([message.content, message.embeds], tag)) {
        if (!s.at.has(id)) {
          s.at.set(id, message.createdAt)
          s.order.push(id)
        }
        s.where.set(id, [...(s.where.get(id) ?? []), message.channel_id])
      }
    }
    return s
  }
  try {
    report(
      mode === 'forum' ? 'Discord, forum mode, one forum' : 'Discord, channel mode, one text channel',
      await drive(running.url, seen, tag),
      seen()
    )
  } finally {
    await running.stop()
    await fake.close()
  }
}

console.log(`# busy channel ${new Date().toISOString()}`)
console.log(
  `node ${process.version}, ${cpus().length} CPUs, load average before ${loadavg()
    .map(l => f(l, 2))
    .join(' ')}`
)
if (wants('slack')) await slack(1)
if (wants('slack3')) await slack(3)
if (wants('discord')) await discord('forum')
if (wants('discord-channel')) await discord('channel')
console.log(
  `load average after ${loadavg()
    .map(l => f(l, 2))
    .join(' ')}`
)
