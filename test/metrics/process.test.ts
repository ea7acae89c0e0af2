import { join } from 'node:path'
import t from 'tap'
import { seed } from '../helpers/app.js'
import { startRelay, until } from '../helpers/process.js'
import { Scrape } from './samples.js'

t.test('the started relay serves /metrics to a plain fetch, counting what it received and delivered', async t => {
  const dir = t.testdir({
    'relay.json': JSON.stringify({
      auth: { tokens: ['${KEY}'] },
      store: { driver: 'sqlite', path: 'relay.db' },
      relays: { out: { type: 'console' } }
    })
  })
  const relay = await startRelay(t, ['start', '--config', join(dir, 'relay.json')], {
    cwd: dir,
    env: { KEY: 'k-0123456789abcdef' }
  })
  const sent = await fetch(`${relay.url}/webhook`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer k-0123456789abcdef' },
    body: JSON.stringify(seed())
  })
  t.equal(sent.status, 200)

  const first = await fetch(`${relay.url}/metrics`)
  t.equal(first.status, 200)
  t.equal(first.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8')
  await first.arrayBuffer()

  let scrape: Scrape | undefined
  const delivered = await until(async () => {
    scrape = new Scrape(await (await fetch(`${relay.url}/metrics`)).text())
    return scrape.value('gptbots_relay_delivery_attempts_total', { relay: 'out', outcome: 'delivered' }) === 1
  }, 10000)
  t.ok(delivered, 'the console relay delivered it, and the scrape says so')
  t.equal(scrape!.value('gptbots_relay_messages_received_total', { source: 'default', type: 'ANSWER' }), 1)
  t.equal(scrape!.value('gptbots_relay_outbox_pending', { relay: 'out' }), 0)
  t.equal(scrape!.value('gptbots_relay_delivery_latency_seconds_count', { relay: 'out', from: 'received' }), 1)
  t.ok(scrape!.value('process_start_time_seconds')! > 0, 'process metrics of the real process')
  t.equal(
    scrape!.value('gptbots_relay_http_requests_total', { method: 'POST', route: '/webhook', status_code: '200' }),
    1
  )

  relay.child.kill('SIGTERM')
  t.equal(await relay.exited, 0)
})
