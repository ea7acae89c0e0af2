import { writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import t, { type Test } from 'tap'
import { allScopes, fakeChannel, FakeSlack } from '../fakes/slack.js'
import { receiver } from '../helpers/receiver.js'
import { startRelay, until, type RelayProcess } from '../helpers/process.js'

// Distinctive values, so that any of them turning up in the output is a leak and nothing else.
const secrets = {
  webhookToken: 'whk-default-7f3a91c2e4',
  sourceToken: 'whk-sales-5d8e02b6a1',
  adminToken: 'admin-9c4e7a1f2b6d8e03',
  slackToken: 'xoxb-leakcheck-4b7d1e9a',
  rejectedSlackToken: 'xoxb-rejected-8e2c5a7f',
  forwarderSecret: 'fwd-secret-3e9b7c1d5a2f',
  receiverKey: 'rcv-apikey-6a1d9e4c7b',
  urlPassword: 'urlpass-2f8c6e1a9d'
}
const wrongToken = 'whk-wrong-0a9b8c7d6e'

interface Relay {
  relay: RelayProcess
  output(): string
  slack: FakeSlack
}

/** A real relay process with every kind of secret in its config, and destinations that fail in ways that get logged. */
async function run(t: Test, log: Record<string, unknown>): Promise<Relay> {
  const slack = await FakeSlack.start({
    tokens: { [secrets.slackToken]: { scopes: allScopes } },
    channels: { [fakeChannel]: { name: 'relay' } },
    rateLimit: false
  })
  t.teardown(() => slack.close())
  // Slack fails the first two posts, so that retries are logged.
  let slackPosts = 0
  slack.on('chat.postMessage', () => (++slackPosts <= 2 ? { status: 500, body: 'upstream trouble' } : undefined))
  // A receiver that quotes the request's API key back in its error, as careless ones do.
  let echoCalls = 0
  const echo = await receiver(t, request => ({
    status: ++echoCalls % 2 === 1 ? 503 : 400,
    body: `refused key ${String(request.headers['x-api-key'])} (expected ${secrets.forwarderSecret})`
  }))
  const dir = t.testdir({})
  const config = join(dir, 'relay.json')
  const forwarder = resolve('plugins/http-forwarder')
  writeFileSync(
    config,
    JSON.stringify({
      auth: { tokens: [secrets.webhookToken], sources: { sales: { tokens: [secrets.sourceToken] } } },
      admin: { token: secrets.adminToken },
      store: { driver: 'sqlite', path: join(dir, 'relay.db') },
      dispatch: { maxAttempts: 2, backoffBaseMs: 20, backoffMaxMs: 50, pollIntervalMs: 50 },
      relays: {
        'slack.main': {
          type: 'slack',
          token: secrets.slackToken,
          channel: fakeChannel,
          apiUrl: slack.apiUrl,
          pace: { intervalMs: 0, burst: 50 },
          timeoutMs: 2000
        },
        'slack.revoked': {
          type: 'slack',
          token: secrets.rejectedSlackToken,
          channel: fakeChannel,
          apiUrl: slack.apiUrl,
          timeoutMs: 2000
        },
        echo: {
          type: forwarder,
          url: echo.url,
          secret: secrets.forwarderSecret,
          headers: { 'x-api-key': secrets.receiverKey },
          timeoutMs: 2000
        },
        credentials: {
          type: forwarder,
          url: echo.url.replace('http://', `http://relay:${secrets.urlPassword}@`),
          secret: secrets.forwarderSecret,
          timeoutMs: 2000
        }
      },
      log
    })
  )
  const relay = await startRelay(t, ['start', '--config', config])
  return { relay, slack, output: () => relay.stdout() + relay.stderr() }
}

async function post(url: string, token: string | undefined, id: string) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({
      message_id: id,
      message_type: 'ANSWER',
      text: `answer ${id}`,
      create_time: Date.now(),
      conversation_id: 'conv-logs'
    })
  })
  return response.status
}

/** Messages, retries, dead letters and refused requests: everything that writes a log line. */
async function traffic(t: Test, { relay, output }: Relay) {
  t.equal(await post(`${relay.url}/webhook`, secrets.webhookToken, 'm-1'), 200)
  t.equal(await post(`${relay.url}/webhook/sales`, secrets.sourceToken, 'm-2'), 200)
  t.equal(
    await post(`${relay.url}/webhook`, secrets.sourceToken, 'm-3'),
    401,
    'a source token is refused on another source'
  )
  t.equal(await post(`${relay.url}/webhook`, wrongToken, 'm-4'), 401)
  t.equal(await post(`${relay.url}/webhook/sales`, undefined, 'm-5'), 401)
  const admin = await fetch(`${relay.url}/admin/dead-letters`, { headers: { authorization: `Bearer ${wrongToken}` } })
  t.ok(admin.status >= 400, 'admin refuses a wrong token')
  // Each message: delivered to slack.main after retries, dead-lettered by the two forwarders; the
  // revoked Slack token holds its relay instead.
  const settled = () =>
    (output().match(/\bdelivered\b/g) ?? []).length >= 2 &&
    (output().match(/dead-lettered/g) ?? []).length >= 4 &&
    /slack\.revoked\\?" is held/.test(output())
  t.ok(await until(settled, 20000), 'deliveries settled')
  relay.child.kill('SIGTERM')
  t.equal(await relay.exited, 0, 'clean exit')
}

function assertNoSecrets(t: Test, output: string) {
  for (const [name, value] of Object.entries({ ...secrets, wrongToken })) {
    t.notOk(output.includes(value), `${name} does not appear in the output`)
  }
  // The scrubber did have something to do: a URL password and a receiver's quoted key were in error messages.
  t.match(output, /relay:\[redacted\]@127\.0\.0\.1/, 'the URL password was replaced')
  t.match(output, /refused key \[redacted\] \(expected \[redacted\]\)/, 'the quoted key and secret were replaced')
}

t.test('JSON logs of a busy run carry the expected lines and no secret', async t => {
  const running = await run(t, { level: 'debug', format: 'json' })
  await traffic(t, running)
  const output = running.output()
  const lines = running.relay
    .stderr()
    .split('\n')
    .filter(Boolean)
    .map(line => JSON.parse(line) as Record<string, unknown>)
  const find = (msg: string, fields: Record<string, unknown>) =>
    lines.find(line => line.msg === msg && Object.entries(fields).every(([k, v]) => line[k] === v))
  t.ok(find('message accepted', { conversationId: 'conv-logs', messageId: 'm-1', source: 'default' }), 'accepted m-1')
  t.ok(find('message accepted', { conversationId: 'conv-logs', messageId: 'm-2', source: 'sales' }), 'accepted m-2')
  t.ok(
    find('delivery failed; will retry', { relay: 'slack.main', conversationId: 'conv-logs', messageId: 'm-1' }),
    'slack retry'
  )
  t.ok(find('delivered', { relay: 'slack.main', conversationId: 'conv-logs', messageId: 'm-2' }), 'slack delivered')
  t.ok(
    lines.some(line => line.relay === 'slack.revoked' && /is held/.test(String(line.msg))),
    'slack.revoked held'
  )
  for (const relay of ['echo', 'credentials']) {
    t.ok(find('dead-lettered', { relay, conversationId: 'conv-logs', messageId: 'm-1' }), `${relay} dead-lettered`)
  }
  t.ok(
    lines.filter(line => line.msg === 'request refused' && line.errorCode === 'AUTH_INVALID').length >= 2,
    'auth failures logged'
  )
  t.ok(
    lines.some(line => line.level === 20),
    'debug lines included'
  )
  assertNoSecrets(t, output)
})

t.test('pretty logs are not JSON and carry no secret either', async t => {
  const running = await run(t, { level: 'debug', format: 'pretty' })
  await traffic(t, running)
  const stderr = running.relay.stderr()
  t.match(stderr, /INFO.*message accepted/)
  t.match(stderr, /ERROR.*dead-lettered/)
  t.throws(() => JSON.parse(stderr.split('\n')[0]!), 'not JSON lines')
  assertNoSecrets(t, running.output())
})
