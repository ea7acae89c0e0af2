// The Discord desk's reply latency (#17): from a signed modal submit posted to the relay to the
// reply's arrival at the fake GPTBots, through the real relay process. `npx tsx bench/discord-desk.ts`
// (after `npm run build`); with TEST_DATABASE_URL also on PostgreSQL.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import pg from 'pg'
import { FakeDiscord } from '../test/fakes/discord.js'
import { FakeGptbots, fakeApiKey } from '../test/fakes/gptbots.js'
import { AUTH, baseConfig, f, percentile, startRelay, tempDir } from './lib.js'

const REPLIES = Number(process.env.BENCH_REPLIES ?? 200)
const agent = { id: '200000000000000002', username: 'ann', global_name: 'Ann' }

async function measure(label: string, store: object): Promise<void> {
  const discord = await new FakeDiscord().start()
  const gptbots = await FakeGptbots.start()
  const dir = tempDir('discord-desk')
  writeFileSync(join(dir, 'gptbots.key'), fakeApiKey)
  const channel = discord.addChannel(0)
  const relay = await startRelay(
    dir,
    baseConfig(
      store,
      {
        'discord.desk': {
          type: 'discord',
          token: discord.token,
          channel: channel.id,
          apiUrl: discord.api,
          desk: { applicationId: discord.application.id, publicKey: discord.application.publicKey }
        }
      },
      { handoff: { relays: ['discord.desk'], gptbots: { apiUrl: gptbots.apiUrl, apiKeyFile: 'gptbots.key' } } }
    )
  )
  try {
    gptbots.open.add('bench-1')
    const established = await fetch(`${relay.url}/handoff/conversation/establish`, {
      method: 'POST',
      headers: AUTH,
      body: JSON.stringify({
        conversation_id: 'bench-1',
        timestamp: Date.now(),
        email: 'owner@example.com',
        bot_id: 'bot-1',
        body: [{ message_type: 'QUESTION', text: 'I need a human' }],
        user_info: { user_id: 'u-1', email: '', phone: '', anonymous_id: '' }
      })
    })
    if (!established.ok) throw new Error(`establish answered ${established.status}: ${await established.text()}`)
    const endpoint = `${relay.url}/relays/discord.desk/interactions`
    let opening = undefined as ReturnType<FakeDiscord['messagesIn']>[number] | undefined
    for (let waited = 0; !opening?.components && waited < 10_000; waited += 10) {
      await new Promise(resolve => setTimeout(resolve, 10))
      const thread = discord.threadsOf(channel.id)[0]
      opening = thread && discord.messagesIn(thread.id)[0]
    }
    if (!opening) throw new Error('the handoff thread did not appear')
    const reply = opening.components![0]!.components.find(b => b.label === 'Reply')!.custom_id!
    const latencies: number[] = []
    const answers: number[] = []
    for (let i = 1; i <= REPLIES; i++) {
      const modal = await discord.click(endpoint, opening.id, reply, { user: agent })
      if (modal.body?.type !== 9) throw new Error(`Reply answered ${JSON.stringify(modal.body)}`)
      const started = performance.now()
      const sent = await discord.submit(endpoint, modal, { text: `reply ${i}` })
      answers.push(sent.ms)
      await gptbots.waitForReplies(i)
      latencies.push(performance.now() - started)
    }
    const inOrder = gptbots.replies.every((r, i) => r.text === `reply ${i + 1}`)
    console.log(
      `| ${label} | ${REPLIES} | ${f(percentile(answers, 50))} | ${f(percentile(answers, 99))} | ${f(percentile(latencies, 50))} | ${f(percentile(latencies, 99))} | ${inOrder ? 'yes' : 'NO'} |`
    )
  } finally {
    await relay.stop()
    await discord.close()
    await gptbots.close()
  }
}

console.log('| store | replies | answer to Discord p50 ms | p99 ms | submit → GPTBots p50 ms | p99 ms | in order |')
console.log('| --- | --- | --- | --- | --- | --- | --- |')
await measure('SQLite', { driver: 'sqlite', path: 'relay.db' })
const url = process.env.TEST_DATABASE_URL
if (url) {
  const schema = `bench_desk_${process.pid}_${Date.now()}`
  try {
    await measure('PostgreSQL', { driver: 'postgres', url, schema })
  } finally {
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
    await client.end()
  }
} else console.log('(PostgreSQL skipped: TEST_DATABASE_URL is not set)')
