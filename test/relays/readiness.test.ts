import { Writable } from 'node:stream'
import { pino } from 'pino'
import t from 'tap'
import { FakeRelay } from '../helpers/fake-relay.js'
import { post, seed, testApp } from '../helpers/app.js'

t.test('a relay that fails its readiness check is reported at start; intake keeps storing', async t => {
  const lines: Record<string, unknown>[] = []
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).trim().split('\n')) lines.push(JSON.parse(l))
      done()
    }
  })
  const broken = Object.assign(new FakeRelay(), {
    ready: async () => {
      throw new Error('invalid_auth: the token was revoked; install the app again')
    }
  })
  const healthy = Object.assign(new FakeRelay(), { ready: async () => {} })
  const app = await testApp(t, {
    relays: new Map([
      ['slack.support', broken],
      ['ok', healthy]
    ]),
    logger: pino({ level: 'info' }, sink)
  })
  await app.ready()
  await new Promise(resolve => setImmediate(resolve))
  const report = lines.find(l => l.relay === 'slack.support' && l.level === 50)
  t.match(
    report?.msg,
    /^relay "slack\.support" is not ready: invalid_auth: the token was revoked; install the app again/
  )
  t.notOk(
    lines.some(l => l.relay === 'ok' && l.level === 50),
    'the healthy relay is not reported'
  )
  t.equal((await post(app, seed())).statusCode, 200, 'messages are still accepted')
})
