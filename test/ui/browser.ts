import { chromium, type Browser } from 'playwright-core'

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
