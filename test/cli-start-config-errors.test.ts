import { join } from 'node:path'
import t from 'tap'
import { runCli } from './helpers/process.js'

// start and check-config report a bad config the same way: the file, every problem, no stack trace.
t.test('start prints what check-config prints about a bad config', async t => {
  const dir = t.testdir({
    'typo.json': JSON.stringify({ auth: { tokens: ['k'] }, relays: { main: { type: 'slak' } } }),
    'unset.json': JSON.stringify({
      auth: { tokens: ['${RELAY_TEST_KEY}'] },
      server: { port: 'eighty' },
      relays: { console: { type: 'console' } }
    })
  })
  for (const [name, expected] of [
    ['typo.json', /relays\.main\.type.*did you mean "slack"\?/],
    ['unset.json', /auth\.tokens\.0: environment variable RELAY_TEST_KEY is not set\nserver\.port must be an integer/]
  ] as const) {
    const file = join(dir, name)
    const check = await runCli(['check-config', file], { env: { RELAY_TEST_KEY: '' } })
    const start = await runCli(['start', '--config', file], { env: { RELAY_TEST_KEY: '' } })
    t.equal(check.code, 1, `${name}: check-config fails`)
    t.equal(start.code, 1, `${name}: start fails`)
    t.match(start.stderr, expected, name)
    t.match(start.stderr, `config error: ${file}`, `${name}: start names the file`)
    t.equal(start.stderr, check.stderr, `${name}: the same words`)
  }
})
