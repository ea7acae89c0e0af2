import { readFileSync } from 'node:fs'
import t from 'tap'
import configSchema from '../../config.schema.json' with { type: 'json' }
import example from '../../config.example.json' with { type: 'json' }

const doc = readFileSync('docs/public-url.md', 'utf8')
const block = (lang: string) => new RegExp('```' + lang + '\\n([\\s\\S]*?)\\n```').exec(doc)?.[1] ?? ''

// The proxies and the tunnel must send GPTBots to where config.example.json and the examples listen.
t.test('the Caddy, nginx and cloudflared examples point at the address the examples listen on', async t => {
  const upstream = `${example.server.host}:${example.server.port}`
  t.match(block('caddyfile'), `reverse_proxy ${upstream}`, 'Caddy')
  t.match(block('nginx'), `proxy_pass http://${upstream};`, 'nginx')
  t.match(doc, `cloudflared tunnel --url http://${upstream}`, 'cloudflared')
  for (const file of ['examples/slack.json', 'examples/discord.json', 'examples/slack-and-discord.json']) {
    const config = JSON.parse(readFileSync(file, 'utf8'))
    t.equal(`${config.server.host}:${config.server.port}`, upstream, `${file} listens there too`)
  }
})

t.test("nginx lets through the bodies the relay takes, so GPTBots never gets nginx's HTML 413", async t => {
  const limit = /client_max_body_size (\d+)m;/.exec(block('nginx'))?.[1]
  t.equal(Number(limit) * 1024 * 1024, configSchema.properties.server.properties.bodyLimit.default)
  t.equal(example.server.bodyLimit, configSchema.properties.server.properties.bodyLimit.default)
})

t.test('it says up front that GPTBots calls from the internet over HTTPS, and names server.publicUrl', async t => {
  t.match(doc.slice(0, 400), /GPTBots calls the relay, from the internet, over HTTPS/)
  t.match(doc, '`server.publicUrl`')
})
