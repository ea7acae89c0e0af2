import t from 'tap'
import configSchema from '../../config.schema.json' with { type: 'json' }
import { backoffDelay } from '../../src/dispatch/backoff.js'

// The config schema is what editors show users: it must describe the jitter the dispatcher uses.
t.test('the schema says "equal jitter", and the dispatcher waits between half and all of the delay', async t => {
  const description: string = configSchema.properties.dispatch.properties.backoffBaseMs.description
  t.match(description, /equal jitter/)
  t.notMatch(description, /full jitter/)
  const policy = { baseMs: 1000, maxMs: 300_000 }
  t.equal(
    backoffDelay(3, policy, () => 0),
    2000,
    'the least a third retry waits is half of 4 s'
  )
  t.equal(
    backoffDelay(3, policy, () => 1),
    4000,
    'the most is all of it'
  )
})
