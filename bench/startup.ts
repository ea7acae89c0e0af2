/**
 * Start-up with the platform SDKs loaded: spawn `node dist/src/cli.js start` with one Slack and one
 * Discord relay (against the fakes) and time it to the first 200 from /healthz.
 *
 *   npm run build && npx tsx bench/startup.ts
 *   BENCH_DISTS=/tmp/before/dist,dist BENCH_STARTS=9 npx tsx bench/startup.ts   # builds paired, in turns
 *
 * Each build runs with the node_modules next to it, so a before/after pair compares dependencies too.
 * Builds take turns within each round (the order flips every round), so both see the same load.
 */
import { cpus, loadavg } from 'node:os'
import { join, resolve } from 'node:path'
import { ChannelType, FakeDiscord } from '../test/fakes/discord.js'
import { FakeSlack, fakeToken } from '../test/fakes/slack.js'
import { baseConfig, f, median, startRelay, tempDir } from './lib.js'

const dists = (process.env.BENCH_DISTS ?? 'dist').split(',').map(dist => resolve(dist))
const starts = Number(process.env.BENCH_STARTS ?? 7)

const slack = await FakeSlack.start({ channels: { C0START: { name: 'start' } } })
const discord = await new FakeDiscord().start()
const channel = discord.addChannel(ChannelType.Text)
const relays = {
  'slack.start': { type: 'slack', token: fakeToken, apiUrl: slack.apiUrl, channel: 'C0START' },
  'discord.start': { type: 'discord', token: discord.token, apiUrl: discord.api, channel: channel.id }
}

console.log(`# start-up with Slack and Discord relays ${new Date().toISOString()}`)
console.log(
  `${cpus().length} CPUs, load average ${loadavg()
    .map(n => f(n, 2))
    .join(' ')} at the start`
)
const times = new Map<string, number[]>(dists.map(dist => [dist, []]))
try {
  for (let round = 0; round < starts; round++) {
    const order = round % 2 === 0 ? dists : [...dists].reverse()
    for (const dist of order) {
      const relay = await startRelay(
        tempDir('startup'),
        baseConfig({ driver: 'sqlite', path: './relay.db' }, relays),
        join(dist, 'src/cli.js')
      )
      times.get(dist)!.push(relay.startMs)
      await relay.stop()
    }
  }
} finally {
  await slack.close()
  await discord.close()
}
for (const [dist, ms] of times) {
  console.log(
    `${dist}: median ${f(median(ms), 0)} ms (min ${f(Math.min(...ms), 0)}, max ${f(Math.max(...ms), 0)}): ${ms.map(t => f(t, 0)).join(', ')}`
  )
}
console.log(
  `load average ${loadavg()
    .map(n => f(n, 2))
    .join(' ')} at the end`
)
