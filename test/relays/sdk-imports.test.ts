import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'

// The core knows relays only through their contract: a platform's SDK is imported by its plugin
// alone, so a relay's weight (and its SDK's upgrades) stays with the relay.
const SDK = /\bfrom\s+['"](@slack\/[^'"]+|discord\.js|@discordjs\/[^'"]+|discord-api-types[^'"]*)['"]/g

const sources = readdirSync('src', { recursive: true, encoding: 'utf8' })
  .filter(name => name.endsWith('.ts'))
  .map(name => join('src', name))

t.ok(sources.length > 50, `the sources were found (${sources.length})`)
for (const file of sources) {
  const imported = [...readFileSync(file, 'utf8').matchAll(SDK)].map(match => match[1])
  if (imported.length > 0) t.fail(`${file} imports ${imported.join(', ')}: only plugins/ may import a platform SDK`)
}

t.test('the package depends on the REST clients, not on the app frameworks', async t => {
  const { dependencies } = JSON.parse(readFileSync('package.json', 'utf8')) as { dependencies: Record<string, string> }
  for (const heavy of ['@slack/bolt', 'discord.js']) t.notOk(heavy in dependencies, `no ${heavy}`)
  for (const used of ['@slack/web-api', '@discordjs/rest', 'discord-api-types']) t.ok(used in dependencies, used)
})
