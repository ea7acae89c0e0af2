import t from 'tap'
import { ChannelType, FakeDiscord } from '../fakes/discord.js'
import { FakeSlack, fakeChannel, fakeToken } from '../fakes/slack.js'
import { post, seed, testApp } from '../helpers/app.js'

// Pacing and 429s are the Slack relay's own tests; here the platform is not the limit.
const slack = await FakeSlack.start({ rateLimit: false })
const discord = await new FakeDiscord().start()
t.teardown(async () => {
  await slack.close()
  await discord.close()
})

/** The relay as users configure it: built-in relays by name, through the real loader, store and dispatcher. */
const configFor = (discordChannel: string) => ({
  relays: {
    'slack.support': {
      type: 'slack',
      token: fakeToken,
      channel: fakeChannel,
      apiUrl: slack.apiUrl,
      pace: { intervalMs: 1, burst: 50 }
    },
    'discord.support': { type: 'discord', token: discord.token, channel: discordChannel, apiUrl: discord.api }
  }
})

t.test(
  'the same messages fan out to Slack and Discord at once: a thread per conversation on each, in order, kept across a restart',
  async t => {
    const channel = discord.addChannel(ChannelType.Text)
    const app = await testApp(t, { config: configFor(channel.id) })
    const conversations = ['conv-a', 'conv-b', 'conv-c']
    // Interleaved turns: a question and an answer per conversation, twice over.
    for (let round = 0; round < 2; round++) {
      for (const c of conversations) {
        for (const type of ['QUESTION', 'ANSWER']) {
          const res = await post(
            app,
            seed({
              conversation_id: c,
              message_id: `${c}-${round}-${type}`,
              message_type: type,
              text: `${c} round ${round} ${type}`,
              flow_output: null
            })
          )
          t.equal(res.statusCode, 200)
        }
      }
    }
    await app.relay.dispatcher.drain()
    const log = await app.relay.store.listDeliveries({})
    t.equal(log.length, 24, 'twelve messages, two destinations each')
    t.ok(
      log.every(d => d.status === 'delivered'),
      JSON.stringify(log.filter(d => d.status !== 'delivered').map(d => d.lastError))
    )

    const slackThreads = slack.messages.filter(m => m.channel === fakeChannel && !m.thread_ts)
    t.equal(slackThreads.length, 3, 'one Slack thread per conversation')
    const discordThreads = discord.threadsOf(channel.id)
    t.equal(discordThreads.length, 3, 'one Discord thread per conversation')
    for (const c of conversations) {
      const expected = [0, 1].flatMap(r => [`${c} round ${r} QUESTION`, `${c} round ${r} ANSWER`])
      const parent = slackThreads.find(m => JSON.stringify(m).includes(c))!
      const inSlack = slack.messages.filter(
        m => m.thread_ts === parent.ts || (m === parent && !JSON.stringify(m).includes('GPTBots conversation'))
      )
      const slackOrder = expected.map(text => inSlack.findIndex(m => JSON.stringify(m).includes(text)))
      t.ok(
        slackOrder.every(i => i >= 0),
        `${c}: every message in its Slack thread`
      )
      t.same(
        slackOrder,
        [...slackOrder].sort((a, b) => a - b),
        `${c}: in order in Slack`
      )
      const thread = discordThreads.find(th => th.name.includes(c))!
      const inDiscord = discord.messagesIn(thread.id).map(m => m.content ?? '')
      const discordOrder = expected.map(text => inDiscord.findIndex(content => content.includes(text)))
      t.ok(
        discordOrder.every(i => i >= 0),
        `${c}: every message in its Discord thread`
      )
      t.same(
        discordOrder,
        [...discordOrder].sort((a, b) => a - b),
        `${c}: in order in Discord`
      )
    }

    await app.close()
    const again = await testApp(t, { config: configFor(channel.id), dbPath: app.dbPath })
    await post(
      again,
      seed({ conversation_id: 'conv-a', message_id: 'after-restart', text: 'after the restart', flow_output: null })
    )
    await again.relay.dispatcher.drain()
    t.equal(
      slack.messages.filter(m => m.channel === fakeChannel && !m.thread_ts).length,
      3,
      'no new Slack thread after the restart'
    )
    t.equal(discord.threadsOf(channel.id).length, 3, 'no new Discord thread after the restart')
    const parentA = slackThreads.find(m => JSON.stringify(m).includes('conv-a'))!
    t.ok(
      slack.messages.some(m => m.thread_ts === parentA.ts && JSON.stringify(m).includes('after the restart')),
      'went into the existing Slack thread'
    )
    const threadA = discordThreads.find(th => th.name.includes('conv-a'))!
    t.ok(
      discord.messagesIn(threadA.id).some(m => (m.content ?? '').includes('after the restart')),
      'went into the existing Discord thread'
    )
  }
)

t.test('a permanent Slack error dead-letters its deliveries while Discord gets everything', async t => {
  const channel = discord.addChannel(ChannelType.Text)
  const config = configFor(channel.id)
  config.relays['slack.support'].channel = 'C0NOTTHERE'
  const app = await testApp(t, { config })
  for (let n = 0; n < 3; n++)
    await post(app, seed({ message_id: `p-${n}`, conversation_id: 'conv-p', text: `p ${n}`, flow_output: null }))
  await app.relay.dispatcher.drain()
  const dead = await app.relay.store.listDeliveries({ status: 'dead' })
  t.equal(dead.length, 3)
  t.ok(
    dead.every(d => d.relay === 'slack.support' && /channel_not_found/.test(d.lastError ?? '')),
    dead.map(d => d.lastError).join('; ')
  )
  t.equal((await app.relay.store.listDeliveries({ status: 'delivered', relay: 'discord.support' })).length, 3)
})

t.test(
  'many messages of a new conversation at once: one thread on each platform, in acknowledgement order',
  async t => {
    const channel = discord.addChannel(ChannelType.Text)
    const app = await testApp(t, {
      config: { ...configFor(channel.id), dispatch: { concurrency: 16 } },
      dispatch: 'background'
    })
    await app.ready()
    const parentsBefore = slack.messages.filter(m => m.channel === fakeChannel && !m.thread_ts).length
    const acked: string[] = []
    await Promise.all(
      Array.from({ length: 12 }, async (_, n) => {
        const id = `burst-${n}`
        const res = await post(
          app,
          seed({ conversation_id: 'conv-burst', message_id: id, text: `burst message ${id} end`, flow_output: null })
        )
        t.equal(res.statusCode, 200)
        acked.push(id)
      })
    )
    const deadline = Date.now() + 20000
    while (Date.now() < deadline && (await app.relay.store.listDeliveries({ status: 'delivered' })).length < 24)
      await new Promise(r => setTimeout(r, 20))
    t.equal((await app.relay.store.listDeliveries({ status: 'delivered' })).length, 24, 'all delivered to both')
    t.equal(
      slack.messages.filter(m => m.channel === fakeChannel && !m.thread_ts).length,
      parentsBefore + 1,
      'one new Slack thread'
    )
    t.equal(discord.threadsOf(channel.id).length, 1, 'one Discord thread')
    // The store's order of acknowledgement is the order of the delivery log.
    const order = (await app.relay.store.listDeliveries({ relay: 'slack.support', conversationId: 'conv-burst' })).map(
      d => d.messageId
    )
    const inSlack = slack.messages
      .map(m => JSON.stringify(m))
      .flatMap(text => order.filter(id => text.includes(`burst message ${id} end`)))
    t.same(inSlack, order, 'Slack got them in the order they were acknowledged')
    const inDiscord = discord
      .messagesIn(discord.threadsOf(channel.id)[0]!.id)
      .flatMap(m => order.filter(id => (m.content ?? '').includes(`burst message ${id} end`)))
    t.same(inDiscord, order, 'Discord too')
    t.same([...acked].sort(), [...order].sort())
  }
)
