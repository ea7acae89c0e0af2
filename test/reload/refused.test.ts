import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pino } from 'pino'
import t from 'tap'
import { buildApp } from '../../src/app.js'
import { resolveConfig } from '../../src/config/load.js'
import { post, seed } from '../helpers/app.js'
import { FakeRelay } from '../helpers/fake-relay.js'
import { reloadable } from './harness.js'

const running = { relays: { chat: { type: 'console' } }, routes: [{ to: ['chat'] }] }

const bad: [string, (h: Awaited<ReturnType<typeof reloadable>>) => void, RegExp][] = [
  ['invalid JSON', h => writeFileSync(h.file, '{ "relays": { "chat": '), /not valid JSON/],
  [
    'an unknown relay type',
    h => h.write({ relays: { chat: { type: 'console' }, extra: { type: 'no-such-relay-plugin' } } }),
    /relays\.extra\.type: "no-such-relay-plugin" is not a relay type/
  ],
  [
    'invalid relay options',
    h => h.write({ relays: { chat: { type: 'console', stream: 'printer' } } }),
    /relays\.chat\.stream/
  ],
  [
    'a route to an unknown relay',
    h => h.write({ relays: { chat: { type: 'console' } }, routes: [{ to: ['nobody'] }] }),
    /routes\.0\.to\.0 names relay "nobody"/
  ],
  [
    'a changed store path',
    h => h.write({ ...running, store: { driver: 'sqlite', path: join(h.file, '..', 'other.db') } }),
    /store changed; these need a restart/
  ],
  ['a changed port', h => h.write({ ...running, server: { port: 1 } }), /server\.port changed; these need a restart/],
  [
    'a missing environment variable',
    h => h.write({ ...running, auth: { tokens: ['${RELAY_RELOAD_TEST_UNSET_VARIABLE}'] } }),
    /RELAY_RELOAD_TEST_UNSET_VARIABLE is not set/
  ]
]

for (const [what, breakConfig, reason] of bad) {
  t.test(`a config with ${what} is refused and the running one keeps working`, async t => {
    const h = await reloadable(t, running)
    const chat = h.relay('chat')
    await post(h.app, seed({ message_id: 'before' }))
    breakConfig(h)
    const result = await h.app.relay.reload!()
    t.equal(result.ok, false)
    t.match(result.message, reason)
    t.notOk('changed' in result, 'nothing is reported as changed')
    t.equal(h.instances.length, 1, 'no relay was created')
    t.equal(h.relay('chat'), chat)
    t.notOk(chat.closed)
    t.same([...h.app.relay.relays.keys()], ['chat'])
    t.same(h.app.relay.config.relays, running.relays, 'the runtime keeps the running config')
    t.equal((await post(h.app, seed({ message_id: 'after' }))).statusCode, 200, 'the running token still works')
    await h.app.relay.dispatcher.drain()
    t.same(
      h.idsOf('chat', seed().conversation_id as string),
      ['before', 'after'],
      'delivery goes on with the running relays'
    )

    // Fixing the file makes the next reload succeed.
    h.write({ ...running, relays: { chat: { type: 'console' }, more: { type: 'console' } } })
    const fixed = await h.app.relay.reload!()
    t.ok(fixed.ok, fixed.message)
  })
}

t.test('a relay that fails to start is refused, and the relays created for that reload are closed', async t => {
  const h = await reloadable(t, running)
  const chat = h.relay('chat')
  h.write({ relays: { chat: { type: 'console' }, a: { type: 'console' }, b: { type: 'console' } } })
  h.failCreate = 'cannot reach the platform'
  const result = await h.app.relay.reload!()
  t.equal(result.ok, false)
  t.match(result.message, /relays\.b: could not start: cannot reach the platform/)
  t.same([...h.app.relay.relays.keys()], ['chat'], 'the running relays stay')
  t.equal(h.app.relay.relays.get('chat'), chat)
  t.ok(h.relay('a').closed, 'the relay created before the failure is closed')
  t.notOk(chat.closed)
})

t.test(
  'a config without a file (the built-in default) cannot be reloaded: reload says so and changes nothing',
  async t => {
    const loaded = resolveConfig(
      {
        auth: { allowUnauthenticated: true },
        store: { driver: 'sqlite', path: join(t.testdir(), 'relay.db') },
        relays: { console: { type: 'console' } }
      },
      { configDir: process.cwd(), env: {} }
    )
    const app = await buildApp({
      loaded,
      logger: pino({ level: 'silent' }),
      dispatch: 'manual',
      relays: new Map([['console', new FakeRelay()]])
    })
    t.teardown(() => app.close())
    const result = await app.relay.reload!()
    t.equal(result.ok, false)
    t.match(result.message, /built-in default config, which has no file/)
  }
)
