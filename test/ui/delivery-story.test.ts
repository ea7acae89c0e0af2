import t from 'tap'
import { FakeSlack, fakeChannel } from '../fakes/slack.js'
import { post, seed } from '../helpers/app.js'
import { launchOrSkip, openPage, relayOn, signIn } from './browser.js'

// A delivery's story on its conversation's page: each attempt with its time and outcome, the
// platform's refusal, the replay, and the post it made with its link.

const browser = await launchOrSkip(t)
if (browser) {
  const slack = await FakeSlack.start({ rateLimit: false })
  t.teardown(async () => {
    await browser.close()
    await slack.close()
  })

  t.test('a dead letter replayed into Slack: its history shows the refusal, the replay and the post', async t => {
    const app = await relayOn(t, slack)
    slack.channels[fakeChannel]!.error = 'channel_not_found'
    t.teardown(() => {
      delete slack.channels[fakeChannel]!.error
    })
    t.equal(
      (await post(app, seed({ conversation_id: 'story', message_id: 'm-story', text: 'tell me' }))).statusCode,
      200
    )
    await app.relay.dispatcher.drain()
    const [dead] = await app.relay.store.listDeliveries({ status: 'dead', limit: 1 })
    delete slack.channels[fakeChannel]!.error
    t.equal(await app.relay.store.replayDead({ deliveryId: dead!.id }, Date.now()), 1)
    await app.relay.dispatcher.drain()

    const context = await browser.newContext()
    t.teardown(() => context.close())
    const page = await openPage(t, context)
    await signIn(page, app.base)
    await page.goto(`${app.base}/ui/conversation?${new URLSearchParams({ source: 'default', id: 'story' })}`)
    const history = page.locator('#messages details.history')
    await history.locator('summary', { hasText: 'History (3)' }).click()
    const steps = history.locator('li')
    t.equal(await steps.count(), 3)
    t.match(await steps.nth(0).textContent(), /attempt 1\s+gave up[\s\S]*channel_not_found/)
    t.match(await steps.nth(1).textContent(), /replayed/)
    t.match(await steps.nth(2).textContent(), /attempt 1\s+delivered/)
    t.match(await steps.nth(2).getByRole('link', { name: 'view post' }).getAttribute('href'), /^https?:\/\//)
    if (process.env.UI_SHOT) await page.screenshot({ path: process.env.UI_SHOT, fullPage: true })
  })
}
