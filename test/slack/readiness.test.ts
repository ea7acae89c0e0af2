import { systemClock } from '../../src/clock.js'
import t from 'tap'
import plugin from '../../plugins/slack/index.js'
import type { SlackOptions } from '../../plugins/slack/options.js'
import { FakeSlack, fakeChannel, fakeToken, type FakeSlackOptions } from '../fakes/slack.js'
import { recordingLogger } from '../helpers/relay.js'

type Teardown = Pick<typeof t, 'teardown'>

async function setup(t: Teardown, fakeOptions: FakeSlackOptions = {}, options: Partial<SlackOptions> = {}) {
  const fake = await FakeSlack.start({ rateLimit: false, ...fakeOptions })
  t.teardown(() => fake.close())
  const logger = recordingLogger()
  const relay = await plugin.create(
    { token: fakeToken, channel: fakeChannel, apiUrl: fake.apiUrl, ...options },
    { name: 'slack.support', logger, configDir: '.', clock: systemClock }
  )
  return { fake, logger, ready: () => relay.ready!() }
}

t.test('ready when the token works and the channel is open', async t => {
  const { fake, logger, ready } = await setup(t)
  await t.resolves(ready())
  t.same(
    fake.calls.map(c => c.method),
    ['auth.test', 'conversations.info']
  )
  t.match(logger.lines.find(e => e.level === 'info')?.msg, /slack\.support is ready/)
})

const broken: [string, FakeSlackOptions, Partial<SlackOptions>, RegExp][] = [
  [
    'a wrong token',
    {},
    { token: 'xoxb-wrong' },
    /^Slack relay slack\.support: token check \(auth\.test\) failed: Slack rejected the token/
  ],
  [
    'a revoked token',
    { tokens: { [fakeToken]: { error: 'token_revoked' } } },
    {},
    /slack\.support: token check .*token was revoked/
  ],
  [
    'an unknown channel',
    {},
    { channel: 'C0NOSUCH' },
    /slack\.support: channel C0NOSUCH check \(conversations\.info\) failed: .*not found/
  ],
  [
    'an archived channel',
    { channels: { [fakeChannel]: { archived: true } } },
    {},
    /slack\.support: channel C0123456 is archived/
  ]
]

for (const [what, fakeOptions, options, message] of broken) {
  t.test(`not ready with ${what}`, async t => {
    const { ready } = await setup(t, fakeOptions, options)
    await t.rejects(ready(), message)
  })
}

t.test('the SDK error is kept as the cause', async t => {
  const { ready } = await setup(t, {}, { token: 'xoxb-wrong' })
  const error = await ready().then(
    () => undefined,
    (e: unknown) => e as Error
  )
  t.match(error?.cause, { code: 'slack_webapi_platform_error', data: { error: 'invalid_auth' } })
})

t.test('not ready while Slack is down', async t => {
  const { fake, ready } = await setup(t)
  fake.failNext(1, 503)
  await t.rejects(ready(), /slack\.support: token check .*HTTP 503/)
})

t.test('without channels:read the channel goes unchecked, with a warning', async t => {
  const { logger, ready } = await setup(t, { tokens: { [fakeToken]: { scopes: ['chat:write'] } } })
  await t.resolves(ready())
  t.match(logger.warnings()[0]?.msg, /cannot check channel C0123456 without channels:read/)
})

t.test('an app outside a public channel is ready, with a warning', async t => {
  const { logger, ready } = await setup(t, { channels: { [fakeChannel]: { member: false } } })
  await t.resolves(ready())
  t.match(logger.warnings()[0]?.msg, /not a member of channel C0123456/)
})
