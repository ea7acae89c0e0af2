import { existsSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import type { Test } from 'tap'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import type { FakeSlack } from '../fakes/slack.js'
import { fakeChannel, fakeToken } from '../fakes/slack.js'
import { testApp } from '../helpers/app.js'
import { ADMIN_TOKEN } from './helpers.js'

/** Debian's chromium, as CI installs it (.ci/run): no browser is downloaded. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

const args = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync'
]

/**
 * One headless browser. Playwright gives it a fresh temporary profile directory of its own and
 * removes it on close (it refuses a --user-data-dir argument to launch()).
 */
export function launch(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args, timeout: 60_000 })
}

/**
 * The browser for a file's tests, or undefined when this machine has none: the file is then
 * skipped with one line saying what to install. Under CI=true a missing browser fails instead,
 * so CI cannot pass by skipping.
 */
export async function launchOrSkip(t: Pick<Test, 'plan' | 'end'>): Promise<Browser | undefined> {
  if (existsSync(CHROMIUM)) return launch()
  const why = `the dashboard's browser tests need Debian's chromium at ${CHROMIUM}: apt-get install chromium (or set CHROMIUM_PATH)`
  if (process.env.CI) throw new Error(why)
  t.plan(0, why)
  t.end()
  return undefined
}

export const RELAY = 'slack.support'

/** The real app on loopback, with the Slack relay against the strict fake; deliveries wait for `drain()`. */
export async function relayOn(
  t: Parameters<typeof testApp>[0],
  slack: FakeSlack,
  options: { liveIntervalMs?: number } = {}
) {
  const app = await testApp(t, {
    config: {
      admin: { token: ADMIN_TOKEN },
      relays: {
        [RELAY]: {
          type: 'slack',
          token: fakeToken,
          channel: fakeChannel,
          apiUrl: slack.apiUrl,
          pace: { intervalMs: 1, burst: 50 }
        }
      }
    },
    // The live poll ticks often, so that changes show up quickly in a test.
    ui: { liveIntervalMs: options.liveIntervalMs ?? 50 }
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
  return Object.assign(app, { base })
}

/** A page that fails the test on any script error or CSP violation in the console. */
export async function openPage(t: Parameters<typeof testApp>[0], context: BrowserContext): Promise<Page> {
  const page = await context.newPage()
  page.on('pageerror', error => t.fail(`page error: ${error.message}`))
  page.on('console', message => {
    if (message.type() === 'error' && !/status of 40[13]/.test(message.text()))
      t.fail(`console error: ${message.text()}`)
  })
  page.on('dialog', dialog => {
    t.fail(`a dialog opened: ${dialog.message()}`)
    void dialog.dismiss()
  })
  return page
}

export async function signIn(page: Page, base: string): Promise<void> {
  await page.goto(`${base}/ui`)
  await page.getByLabel('Admin token').fill(ADMIN_TOKEN)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.getByRole('heading', { name: 'Overview' }).waitFor()
}

/**
 * Waits until the page's live stream is connected. A page opened just after a change is told of it
 * at once, so its status may already read "Live · updated …" rather than "Live updates on".
 */
export const liveOn = (page: Page) =>
  page
    .locator('#live-status')
    .filter({ hasText: /^Live (updates on|· updated )/ })
    .waitFor()

/** Marks the document, to tell later that it was never reloaded. */
// Expressions as text: this project's type check has no DOM library.
export const mark = (page: Page) => page.evaluate('window.marked = true')
export const stillMarked = (page: Page) => page.evaluate('window.marked === true')
