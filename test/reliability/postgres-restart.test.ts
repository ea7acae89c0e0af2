import { writeFileSync } from 'node:fs'
import t from 'tap'
import { privateCluster } from '../helpers/pg-cluster.js'
import { startRelay, until } from '../helpers/process.js'
import { describeFigures, relayConfig, traffic } from '../helpers/traffic.js'

// The relay's PostgreSQL stops (fast: sessions ended with 57P01), crashes (immediate: sessions cut)
// and comes back, several times under load, on a cluster of the test's own. The relay process must
// live through all of it, refuse messages with 503 while the database is gone, and both take and
// deliver messages again within seconds of its return, without losing or reordering any.

const cluster = await privateCluster(t)

if (cluster) {
  t.test('PostgreSQL stopped and crashed under load, four times: the relay lives on and catches up', async t => {
    const load = await traffic(t, { conversations: 10, pauseMs: 10 })
    const config = relayConfig(t, { url: cluster.url, schema: 'relay', hookUrl: load.hookUrl })
    const relay = await startRelay(t, ['start', '--config', config], { healthyWithinMs: 120_000 })
    const running = load.run(() => [relay.url])

    const recoveries: string[] = []
    for (const [round, mode] of (['fast', 'immediate', 'fast', 'immediate'] as const).entries()) {
      const before = load.acknowledged()
      t.ok(await until(() => load.acknowledged() >= before + 50, 20_000), `round ${round}: messages flow`)
      const delivered = load.arrived()
      await cluster.stop(mode)
      // Long enough for every pooled connection, and every lane in flight, to meet the outage.
      await new Promise(r => setTimeout(r, 1500))
      if (relay.child.exitCode !== null) {
        t.fail(
          `round ${round}: the relay exited with PostgreSQL down (${mode}):\n${relay.stdout().slice(-3000)}${relay.stderr().slice(-1000)}`
        )
        return
      }
      const down = await fetch(`${relay.url}/readyz`)
      t.equal(down.status, 503, `round ${round}: /readyz says not ready while PostgreSQL is down`)
      const acknowledgedWhileDown = load.acknowledged()
      const back = Date.now()
      await cluster.start()
      t.ok(
        await until(() => load.acknowledged() > acknowledgedWhileDown, 15_000),
        `round ${round}: messages are taken again`
      )
      const intakeMs = Date.now() - back
      t.ok(
        await until(() => load.arrived() > delivered + 20, 15_000),
        `round ${round}: delivery goes on after the restart`
      )
      recoveries.push(`${mode}: intake after ${intakeMs} ms, delivery after ${Date.now() - back} ms`)
    }
    load.stop()
    await running
    if (!(await until(() => load.complete(), 30_000))) {
      const pg = (await import('pg')).default
      const client = new pg.Client(cluster.url)
      await client.connect()
      const { rows } = await client.query(
        'SELECT id, conversation_id, pending, due_at, owner, lease_until FROM relay.lanes'
      )
      await client.end()
      t.fail(`not everything arrived; lanes at ${Date.now()}: ${JSON.stringify(rows)}`)
    }
    const figures = load.figures()
    t.comment(`restarts under load: ${describeFigures(figures)}`)
    t.comment(`recoveries: ${recoveries.join('; ')}`)
    t.equal(figures.lost, 0, 'nothing acknowledged is lost')
    t.equal(figures.outOfOrder, 0, 'every conversation arrives in order')
    t.ok(
      figures.longestStallMs < 15_000,
      `no message waited long after the database returned (${figures.longestStallMs} ms)`
    )
    const refusedOtherwise = Object.keys(figures.refusals).filter(k => k !== '503 STORE_UNAVAILABLE')
    t.same(refusedOtherwise, [], 'while the database was down, intake answered 503 STORE_UNAVAILABLE, nothing else')
    t.ok((await fetch(`${relay.url}/readyz`)).ok, '/readyz is ready again')
    t.equal(relay.child.exitCode, null, 'the relay is still running')
    if (process.env.RELAY_LOG) writeFileSync(process.env.RELAY_LOG, relay.stderr())
    relay.child.kill('SIGTERM')
    t.equal(await relay.exited, 0, 'and stops cleanly')
    if (relay.stderr().length > 0) t.comment(relay.stderr().slice(-2000))
  })
}
