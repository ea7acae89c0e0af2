import { readFile } from 'node:fs/promises'
import t from 'tap'
import { FakeSlack } from '../fakes/slack.js'
import { post, seed } from '../helpers/app.js'
import { launchOrSkip, openPage, relayOn, signIn } from './browser.js'

// docs/dashboard.md's "Not there yet" list must not name what an operator can already see on the
// pages: each entry below is checked in the browser and then looked for in that list.

const browser = await launchOrSkip(t)
if (browser) {
  const slack = await FakeSlack.start({ rateLimit: false })
  t.teardown(async () => {
    await browser.close()
    await slack.close()
  })

  const doc = await readFile(new URL('../../docs/dashboard.md', import.meta.url), 'utf8')
  const notYet = /^## Not there yet\n([\s\S]*?)(?=^## )/m.exec(doc)?.[1] ?? ''

  t.test('what the pages show is not listed as missing', async t => {
    const app = await relayOn(t, slack)
    t.equal(
      (await post(app, seed({ conversation_id: 'doc-c', message_id: 'doc-m', text: 'for the doc' }))).statusCode,
      200
    )
    const context = await browser.newContext()
    t.teardown(() => context.close())
    const page = await openPage(t, context)
    await signIn(page, app.base)

    await page
      .locator('#relays td[data-label="Oldest waiting"]')
      .filter({ hasText: /\d+ s$/ })
      .waitFor()
    t.notMatch(notYet, /oldest undelivered/i, 'the per-relay age of the oldest waiting message is shown, not missing')

    await app.relay.dispatcher.drain()
    await page.goto(`${app.base}/ui/conversation?${new URLSearchParams({ source: 'default', id: 'doc-c' })}`)
    const link = page.getByRole('link', { name: 'view post' })
    await link.waitFor()
    t.match(await link.getAttribute('href'), /^https?:\/\//, 'the Slack post has its link')
    t.notMatch(notYet, /links? to posts/i, 'links to posts are shown, not missing')
  })
}
