import { createServer, type Socket } from 'node:net'
import type { AddressInfo } from 'node:net'
import { Writable } from 'node:stream'
import type { Test } from 'tap'
import t from 'tap'
import { resolveConfig } from '../../src/config/load.js'
import { createLogger } from '../../src/ops/logging.js'
import { buildApp } from '../../src/app.js'
import { FakeSlack, fakeChannel, fakeToken } from '../fakes/slack.js'
import { TOKEN, post, seed } from '../helpers/app.js'
import { until } from '../helpers/process.js'
import { duplicateKeys } from '../helpers/json-keys.js'

/** A server that takes connections and never answers: a platform behind a black hole. */
async function blackHole(t: Test) {
  const sockets = new Set<Socket>()
  const server = createServer(socket => {
    sockets.add(socket)
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    for (const socket of sockets) socket.destroy()
    server.close()
  })
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/`, connections: () => sockets.size }
}

/** The real app with these relays, logging into `lines` (pretty or JSON). */
async function app(
  t: Test,
  relays: Record<string, unknown>,
  options: { format?: 'pretty' | 'json'; wait?: (ms: number) => Promise<void> } = {}
) {
  const loaded = resolveConfig(
    {
      auth: { tokens: [TOKEN] },
      store: { driver: 'sqlite', path: `${t.testdir({})}/relay.db` },
      log: { level: 'info', format: options.format ?? 'json' },
      relays
    },
    { configDir: process.cwd(), env: {} }
  )
  const lines: string[] = []
  const logger = createLogger(loaded.config, {
    isTTY: false,
    destination: new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk))
        done()
      }
    })
  })
  const built = await buildApp({ loaded, logger, dispatch: 'manual', readiness: { wait: options.wait } })
  t.teardown(() => built.close())
  return { app: built, text: () => lines.join('') }
}

t.test('/readyz answers within its bound when a platform never answers, and names the relay', async t => {
  const hole = await blackHole(t)
  // The bound passes as soon as the store has answered its ping (a real write): only a relay check
  // already finished can make it.
  let storePing: () => Promise<void> = () => Promise.resolve()
  const { app: relay } = await app(
    t,
    { 'slack.support': { type: 'slack', token: fakeToken, channel: fakeChannel, apiUrl: hole.url } },
    { wait: () => storePing() }
  )
  storePing = () => relay.relay.store.ping()
  for (let probe = 0; probe < 3; probe++) {
    const res = await relay.inject({ method: 'GET', url: '/readyz' })
    t.equal(res.statusCode, 503)
    t.match(res.json(), {
      status: 'not ready',
      store: 'ok',
      relays: { 'slack.support': /^relay "slack\.support" did not answer its readiness check within 5 s: check/ }
    })
  }
  t.ok(await until(() => hole.connections() > 0), 'the check did reach the platform')
})

t.test('an unreachable apiUrl is one log line that names the cause and what to do', async t => {
  // Port 1 is one fetch refuses to use: the cause is "bad port", deep inside "fetch failed".
  const { app: relay, text } = await app(
    t,
    { 'slack.support': { type: 'slack', token: fakeToken, channel: fakeChannel, apiUrl: 'http://127.0.0.1:1/api/' } },
    { format: 'pretty' }
  )
  await relay.ready()
  t.ok(await until(() => text().includes('is not ready')))
  const lines = text().trimEnd().split('\n')
  t.equal(lines.length, 1, `one line:\n${text()}`)
  t.match(
    lines[0],
    /ERROR: relay "slack\.support" is not ready: .*could not reach Slack at http:\/\/127\.0\.0\.1:1\/api\/: bad port; check "apiUrl"/
  )
  t.match(
    lines[0],
    /kept and retried, and those still failing after dispatch\.maxAttempts attempts are dead-lettered/,
    'what happens to its messages, as it is'
  )
  t.notMatch(text(), /\bat .*\.js:\d+/, 'no stack')
})

t.test('a retry is logged once, and no JSON line repeats a key', async t => {
  const fake = await FakeSlack.start({ rateLimit: false })
  t.teardown(() => fake.close())
  const entry = { type: 'slack', token: fakeToken, apiUrl: fake.apiUrl, pace: { intervalMs: 0, burst: 1 } }
  const { app: relay, text } = await app(t, {
    'slack.support': { ...entry, channel: fakeChannel },
    'slack.gone': { ...entry, channel: 'C0NOSUCH' },
    'slack.wrong': { ...entry, channel: 'C0OTHER', token: 'xoxb-wrong-token' }
  })
  await relay.ready()
  // The start-up checks are done before the 502 is set up, so that a delivery meets it.
  t.ok(await until(() => (text().match(/is ready|is not ready/g) ?? []).length === 3))
  let fail = true
  fake.on('chat.postMessage', params => {
    if (params.channel !== fakeChannel || !fail) return undefined
    fail = false
    return { status: 502, body: 'upstream trouble' }
  })
  t.equal((await post(relay, seed())).statusCode, 200)
  await relay.relay.dispatcher.drain()
  await relay.inject({ method: 'GET', url: '/readyz' })
  const lines = text()
    .trimEnd()
    .split('\n')
    .map(line => ({ line, entry: JSON.parse(line) as { level: number; msg: string } }))
  // Looked for in the error text only: a line's time (epoch ms) may contain 502 too.
  const retried = lines.filter(
    ({ entry }) => entry.level >= 40 && /HTTP 502/.test(String((entry as { error?: unknown }).error ?? ''))
  )
  t.equal(retried.length, 1, `the 502 is said once:\n${retried.map(r => r.line).join('\n')}`)
  t.match(retried[0]?.entry, { msg: 'delivery failed; will retry', relay: 'slack.support' })
  t.ok(
    lines.some(({ entry }) => entry.msg === 'dead-lettered'),
    'a dead letter (slack.gone) was logged too'
  )
  t.ok(
    lines.some(({ entry }) => /is held/.test(entry.msg)),
    'a hold (slack.wrong) was logged too'
  )
  t.ok(
    lines.some(({ entry }) => /is ready/.test(entry.msg)),
    'a readiness line was logged too'
  )
  const repeated = lines.filter(({ line }) => duplicateKeys(line).length > 0)
  t.same(
    repeated.map(({ line }) => line),
    [],
    'no line carries a key twice'
  )
})
