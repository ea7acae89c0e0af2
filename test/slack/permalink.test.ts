import { systemClock } from '../../src/clock.js'
import t from 'tap'
import plugin from '../../plugins/slack/index.js'
import { slackPermalink } from '../../plugins/slack/permalink.js'
import { FakeSlack, fakeChannel, fakeToken, relayMessage } from '../fakes/slack.js'
import { memoryState } from '../helpers/memory-state.js'
import { deliveryContext, recordingLogger } from '../helpers/relay.js'
import { deliverOne } from '../../src/relays/run-adapter.js'

t.test('each delivery records a link to its first post, with no call per post', async t => {
  const fake = await FakeSlack.start({ rateLimit: false })
  t.teardown(() => fake.close())
  const relay = await plugin.create(
    { token: fakeToken, channel: fakeChannel, apiUrl: fake.apiUrl, pace: { intervalMs: 0, burst: 1 } },
    { name: 'slack.link', logger: recordingLogger(), configDir: '.', clock: systemClock }
  )
  const state = memoryState()
  const links: string[] = []
  for (const text of ['first', 'second', 'third']) {
    const outcome = await deliverOne(relay, relayMessage({ text }), deliveryContext(state))
    t.equal(outcome.status, 'delivered')
    const posted = outcome.status === 'delivered' ? (outcome.posted as { link?: string; ts: string[] }) : undefined
    const reply = fake.messages.find(m => m.text?.includes(text))!
    t.equal(posted?.ts[0], reply.ts)
    t.equal(
      posted?.link,
      `https://fake.slack.com/archives/${fakeChannel}/p${reply.ts.replace('.', '')}?thread_ts=${reply.thread_ts}&cid=${fakeChannel}`,
      `${text}: the thread reply's permalink`
    )
    links.push(posted?.link ?? '')
  }
  t.equal(new Set(links).size, 3)
  t.equal(fake.callsOf('auth.test').length, 1, 'the workspace URL is asked for once')
  t.equal(fake.callsOf('chat.getPermalink').length, 0)
})

t.test('a permalink is built only from what Slack returned', async t => {
  t.equal(
    slackPermalink('https://acme.slack.com/', 'C123', '1700000000.000100'),
    'https://acme.slack.com/archives/C123/p1700000000000100'
  )
  t.equal(
    slackPermalink('https://acme.slack.com', 'C123', '1.2', '1.2'),
    'https://acme.slack.com/archives/C123/p12',
    'a parent needs no thread_ts'
  )
  t.equal(slackPermalink(undefined, 'C123', '1.2'), undefined, 'no workspace URL, no link')
  t.equal(slackPermalink('javascript:alert(1)//', 'C123', '1.2'), undefined)
  t.equal(slackPermalink('https://acme.slack.com/', 'C1"><x', '1.2'), undefined)
  t.equal(slackPermalink('https://acme.slack.com/', 'C123', 'not-a-ts'), undefined)
})
