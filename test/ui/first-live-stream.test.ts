import t from 'tap'
import { FakeSlack } from '../fakes/slack.js'
import { post, seed } from '../helpers/app.js'
import { launchOrSkip, liveOn, mark, openPage, relayOn, signIn, stillMarked } from './browser.js'

// The first live stream after the relay starts must not take its first read as the baseline: a
// message accepted between the stream opening and that read would never be announced.

const browser = await launchOrSkip(t)
if (browser) {
  const slack = await FakeSlack.start({ rateLimit: false })
  t.teardown(async () => {
    await browser.close()
    await slack.close()
  })

  t.test('a message accepted before the first live read of a fresh relay still updates the page', async t => {
    // A slow poll, so that the message surely lands before the stream's first read.
    const app = await relayOn(t, slack, { liveIntervalMs: 1000 })
    const context = await browser.newContext()
    t.teardown(() => context.close())
    const page = await openPage(t, context)
    await signIn(page, app.base)
    await liveOn(page)
    await mark(page)
    t.equal(await page.locator('#relays td[data-label="Backlog"]').textContent(), '0')
    t.equal((await post(app, seed({ conversation_id: 'early', message_id: 'm-early' }))).statusCode, 200)
    await page.locator('#relays td[data-label="Backlog"]', { hasText: /^1$/ }).waitFor({ timeout: 5000 })
    t.ok(await stillMarked(page), 'the overview counted it without a reload')
  })
}
