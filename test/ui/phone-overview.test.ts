import t from 'tap'
import { FakeSlack } from '../fakes/slack.js'
import { post, seed } from '../helpers/app.js'
import { launchOrSkip, openPage, relayOn, signIn } from './browser.js'

// On a 390 px phone the overview's relays table fits its box: the chart's "N now · peak M" note
// wraps below the chart rather than pushing two-digit rates out of sight behind a sideways swipe.

const browser = await launchOrSkip(t)
if (browser) {
  const slack = await FakeSlack.start({ rateLimit: false })
  t.teardown(async () => {
    await browser.close()
    await slack.close()
  })

  t.test('the relays table fits a 390 px screen with two-digit rates', async t => {
    const app = await relayOn(t, slack)
    for (let i = 0; i < 12; i++) {
      t.equal((await post(app, seed({ conversation_id: `phone-${i}`, message_id: `m-${i}` }))).statusCode, 200)
    }
    await app.relay.dispatcher.drain()
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 1 })
    t.teardown(() => context.close())
    const page = await openPage(t, context)
    await signIn(page, app.base)
    const note = page.locator('#relays .spark-note')
    t.match(await note.textContent(), /^\d\d now · peak \d\d$/, 'the rates have two digits')
    // Expressions as text: this project's type check has no DOM library.
    const [scroll, client] = await page.evaluate<[number, number]>(
      '(w => [w.scrollWidth, w.clientWidth])(document.querySelector("#relays .table-wrap"))'
    )
    t.ok(scroll <= client, `the table fits its box (${scroll} px in ${client} px)`)
    // The note's right edge against the cell's content box: spilling into the padding is clipping too.
    const spill = await page.evaluate<number>(
      `(c => c.querySelector(".spark-note").getBoundingClientRect().right - (c.getBoundingClientRect().right - parseFloat(getComputedStyle(c).paddingRight)))(document.querySelector('#relays td[data-label="Delivered / min"]'))`
    )
    t.ok(spill <= 0, `the chart's note stays inside its cell (${spill.toFixed(1)} px beyond it)`)
    if (process.env.UI_SHOT) await page.screenshot({ path: process.env.UI_SHOT, fullPage: true })
  })
}
