import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { pino, type Logger } from 'pino'
import t from 'tap'
import { LoggerSet } from '../../src/ops/logging.js'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

/** Collects garbage until `done` or a few rounds have passed; a WeakRef's target survives the job that made it. */
async function collect(done: () => boolean): Promise<void> {
  for (let round = 0; round < 10 && !done(); round++) {
    await new Promise(resolve => setImmediate(resolve))
    gc()
  }
}

t.test('the set keeps reaching loggers in use and forgets the ones nothing holds any more', async t => {
  const root = pino({ level: 'info', enabled: false })
  const set = new LoggerSet()
  const kept = set.add(root.child({ component: 'dispatcher' }))
  // A reload's relay instances: each makes a child logger, and the instances are dropped later.
  for (let i = 0; i < 50; i++) set.add(root.child({ relay: `retired-${i}` }))
  const count = () => [...set.live()].length
  await collect(() => count() === 1)
  const live: Logger[] = [...set.live()]
  t.equal(live.length, 1, 'only the logger still in use')
  t.equal(live[0], kept)
  kept.level = 'debug'
  t.equal([...set.live()][0]!.level, 'debug')
})
