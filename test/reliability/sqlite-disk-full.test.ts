import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { startRelay, until } from '../helpers/process.js'
import { describeFigures, relayConfig, traffic } from '../helpers/traffic.js'

// The SQLite file on a small file system that fills up under load, then gets room again: the
// relay lives on, refuses messages with 503 while nothing can be written, says so on /readyz,
// and takes and delivers messages again by itself once there is room, losing none.

const run = promisify(execFile)

t.test('the disk fills up under load, then has room again: 503 and not ready meanwhile, nothing lost', async t => {
  if (process.getuid?.() !== 0) {
    t.plan(0, 'mounting a small file system needs root: skipped')
    return
  }
  // Outside the test's own directory, which tap removes and recreates at will.
  const mount = mkdtempSync(join(tmpdir(), 'relay-full-'))
  try {
    await run('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mount])
  } catch (error) {
    t.fail(`cannot mount a tmpfs as root: ${(error as Error).message}`)
    return
  }
  // After the relay has stopped (teardowns run last first).
  t.teardown(async () => {
    await run('umount', ['-l', mount]).catch(() => {})
    rmSync(mount, { recursive: true, force: true })
  })
  const load = await traffic(t, { conversations: 5, pauseMs: 20 })
  const config = relayConfig(t, {
    hookUrl: load.hookUrl,
    store: { driver: 'sqlite', path: join(mount, 'relay.db') }
  })
  const relay = await startRelay(t, ['start', '--config', config], { healthyWithinMs: 120_000 })
  t.teardown(async () => {
    if (relay.child.exitCode === null) relay.child.kill('SIGKILL')
    await relay.exited
  })
  const running = load.run(() => [relay.url])
  t.ok(await until(() => load.acknowledged() >= 30, 60_000), 'messages flow')

  const filler = join(mount, 'filler')
  // dd stops with an error when the file system is full, which is the point.
  await run('dd', ['if=/dev/zero', `of=${filler}`, 'bs=64k']).catch(() => {})
  const refused = () => load.figures().refusals['503 STORE_UNAVAILABLE'] ?? 0
  t.ok(await until(() => refused() >= 5, 30_000), `full: webhooks are refused with 503 (${refused()})`)
  const full = await fetch(`${relay.url}/readyz`)
  const report = (await full.json()) as { store: string }
  t.equal(full.status, 503, `full: /readyz says not ready (${report.store})`)
  t.equal(relay.child.exitCode, null, 'full: the relay is still running')

  const acknowledgedWhileFull = load.acknowledged()
  rmSync(filler)
  t.ok(await until(() => load.acknowledged() > acknowledgedWhileFull + 20, 30_000), 'room again: messages are taken')
  t.ok(await until(async () => (await fetch(`${relay.url}/readyz`)).ok, 30_000), 'room again: /readyz is ready')
  load.stop()
  await running
  t.ok(await until(() => load.complete(), 30_000), 'every acknowledged message arrived')
  const figures = load.figures()
  t.comment(`disk full, then room again: ${describeFigures(figures)}`)
  t.equal(figures.lost, 0, 'nothing acknowledged is lost')
  t.equal(figures.outOfOrder, 0, 'every conversation arrives in order')
  const otherwise = Object.keys(figures.refusals).filter(k => k !== '503 STORE_UNAVAILABLE')
  t.same(otherwise, [], 'refused only with 503 STORE_UNAVAILABLE')
  relay.child.kill('SIGTERM')
  t.equal(await relay.exited, 0, 'the relay stops cleanly')
})
