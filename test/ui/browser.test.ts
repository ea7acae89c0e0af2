import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { FakeSlack, fakeChannel } from '../fakes/slack.js'
import { post, seed } from '../helpers/app.js'
import { launchOrSkip, liveOn, mark, openPage, RELAY, relayOn, signIn, stillMarked } from './browser.js'
import { ADMIN_TOKEN } from './helpers.js'

// One browser for the whole file; each test opens its own context (cookies) and pages.
const browser = await launchOrSkip(t)
if (browser) {
  const slack = await FakeSlack.start({ rateLimit: false })
  t.teardown(async () => {
    await browser.close()
    await slack.close()
  })
  const relay = (t: Parameters<typeof relayOn>[0]) => relayOn(t, slack)

  t.test('sign in, and sign out', async t => {
    const app = await relay(t)
    const context = await browser.newContext()
    t.teardown(() => context.close())
    const page = await openPage(t, context)

    await page.goto(`${app.base}/ui/dead-letters`)
    t.match(page.url(), /\/ui\/login$/, 'a page without a session leads to the sign-in form')
    await page.getByLabel('Admin token').fill('wrong-token-0123456789')
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByText('That is not the admin token.').waitFor()
    await signIn(page, app.base)
    t.notMatch(page.url(), new RegExp(ADMIN_TOKEN), 'the token is not in the URL')
    const cookies = await context.cookies()
    const session = cookies.find(c => c.name === 'gptbots_relay_ui')
    t.ok(session, 'a session cookie')
    t.equal(session?.httpOnly, true)
    t.equal(session?.sameSite, 'Strict')
    t.equal(await page.evaluate('document.cookie'), '', 'scripts cannot read it')
    await liveOn(page)

    await page.getByRole('button', { name: 'Sign out' }).click()
    await page.getByRole('heading', { name: 'Sign in' }).waitFor()
    await page.goto(`${app.base}/ui`)
    t.match(page.url(), /\/ui\/login$/, 'signed out: the pages ask to sign in again')
    t.notOk(
      (await context.cookies()).some(c => c.name === 'gptbots_relay_ui'),
      'the cookie is gone'
    )
  })

  t.test('a message just posted shows up, and its delivery turns delivered, without a reload', async t => {
    const app = await relay(t)
    const context = await browser.newContext()
    t.teardown(() => context.close())
    const page = await openPage(t, context)
    await signIn(page, app.base)
    await page.getByRole('link', { name: 'Conversations' }).click()
    await page.getByText('No conversation matches.').waitFor()
    await liveOn(page)
    await mark(page)

    t.equal(
      (await post(app, seed({ conversation_id: 'conv-live', message_id: 'm-live', text: 'Hello from the test' })))
        .statusCode,
      200
    )
    await page.getByRole('link', { name: 'conv-live' }).waitFor()
    t.ok(await stillMarked(page), 'the new conversation appeared in the same document')

    await page.getByRole('link', { name: 'conv-live' }).click()
    await page.getByText('Hello from the test').waitFor()
    await page.locator('#messages .badge-pending').waitFor()
    await liveOn(page)
    await mark(page)
    await app.relay.dispatcher.drain()
    t.equal(slack.messages.at(-1)?.text?.includes('Hello from the test'), true, 'the fake Slack has it')
    await page.locator('#messages .badge-delivered').waitFor()
    t.ok(await stillMarked(page), 'delivered, in the same document')
    t.equal(await page.locator('#messages .badge-pending').count(), 0)
  })

  t.test('a dead letter replayed from the page reaches the strict fake', async t => {
    const app = await relay(t)
    const context = await browser.newContext()
    t.teardown(() => context.close())
    const page = await openPage(t, context)
    slack.channels[fakeChannel]!.error = 'channel_not_found'
    t.teardown(() => {
      delete slack.channels[fakeChannel]!.error
    })
    await post(app, seed({ conversation_id: 'conv-dead', message_id: 'm-dead', text: 'Lost, then found' }))
    await app.relay.dispatcher.drain()
    t.equal(slack.messages.filter(m => m.text?.includes('Lost, then found')).length, 0, 'Slack refused it')

    await signIn(page, app.base)
    await page.getByRole('link', { name: 'Dead letters' }).click()
    const row = page.getByRole('row', { name: /conv-dead/ })
    await row.waitFor()
    await row
      .getByText(/channel/)
      .first()
      .waitFor()
    await row.getByRole('button', { name: /^Replay delivery/ }).click()
    await page.getByRole('heading', { name: 'Replay dead letters?' }).waitFor()
    delete slack.channels[fakeChannel]!.error
    await page.getByRole('button', { name: 'Replay', exact: true }).click()
    await page.getByText('Replayed 1 dead letter(s).').waitFor()
    await page.locator('#replayed .badge-pending').waitFor()
    await liveOn(page)
    await mark(page)
    await app.relay.dispatcher.drain()
    await page.locator('#replayed .badge-delivered').waitFor()
    t.ok(await stillMarked(page), 'the replayed letter turned delivered without a reload')
    t.equal(
      slack.messages.filter(m => m.text?.includes('Lost, then found')).length,
      1,
      'the fake Slack received it once'
    )
    t.equal(await page.getByText('No dead letters.').count(), 1)
  })

  t.test('hostile message text and conversation ids are inert text', async t => {
    const app = await relay(t)
    const context = await browser.newContext()
    t.teardown(() => context.close())
    const page = await openPage(t, context)
    const evilId = `x"><img src=x id=evil-id onerror="window.pwned=1"><script>window.pwned=2</script>`
    const evilText = `<b id="evil-b">bold?</b><script>window.pwned=3</script><style>body{display:none}</style>\u202Eright-to-left\n${'W'.repeat(400)}`
    await post(app, seed({ conversation_id: evilId, message_id: 'm-evil', text: evilText }))
    await app.relay.dispatcher.drain()

    await signIn(page, app.base)
    await page.goto(`${app.base}/ui/conversations`)
    const link = page.getByRole('link', { name: evilId })
    await link.waitFor()
    t.equal(await link.textContent(), evilId, 'the id is shown as the very text it is')
    await link.click()
    await page.getByText('<b id="evil-b">bold?</b>', { exact: false }).waitFor()
    t.equal(await page.locator('#evil-b, #evil-id, img').count(), 0, 'no element came from the payloads')
    t.equal(await page.evaluate('window.pwned'), undefined, 'no script ran')
    t.ok(await page.locator('main').isVisible(), 'the page still shows')
    const overflow = await page.evaluate<number>(
      'document.documentElement.scrollWidth - document.documentElement.clientWidth'
    )
    t.ok(overflow <= 0, `a long unbroken text does not widen the page (overflow ${overflow}px)`)
  })

  t.test('a forged cross-site action is refused', async t => {
    const app = await relay(t)
    const context = await browser.newContext()
    t.teardown(() => context.close())
    slack.channels[fakeChannel]!.error = 'channel_not_found'
    t.teardown(() => {
      delete slack.channels[fakeChannel]!.error
    })
    await post(app, seed({ conversation_id: 'conv-keep', message_id: 'm-keep', text: 'keep me' }))
    await app.relay.dispatcher.drain()
    const page = await openPage(t, context)
    await signIn(page, app.base)

    // Another site (another port on the same host: the same "site", so SameSite lets the cookie go).
    const evil = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' })
      res.end(`<!doctype html><form id="f" method="post" action="${app.base}/ui/dead-letters/drop">
      <input name="all" value="yes"><input name="relay" value="${RELAY}"><input name="confirm" value="yes">
      <input name="csrf" value="guessed"></form><script>document.getElementById('f').submit()</script>`)
    })
    await new Promise<void>(resolve => evil.listen(0, '127.0.0.1', resolve))
    t.teardown(() => new Promise<void>(resolve => evil.close(() => resolve())))
    const attacker = await context.newPage()
    const answered = attacker.waitForResponse(r => r.url().endsWith('/ui/dead-letters/drop'))
    await attacker.goto(`http://127.0.0.1:${(evil.address() as AddressInfo).port}/`)
    const response = await answered
    t.equal(response.status(), 403, 'refused')
    t.equal(response.headers()['x-relay-error'], 'UI_CSRF')
    await attacker.close()

    const left = await app.inject({
      method: 'GET',
      url: '/admin/dead-letters',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` }
    })
    t.equal(left.json().deadLetters.length, 1, 'the dead letter is still there')
    await page.goto(`${app.base}/ui`)
    await page.getByRole('heading', { name: 'Overview' }).waitFor()
    t.pass('and the session still works')
  })
}
