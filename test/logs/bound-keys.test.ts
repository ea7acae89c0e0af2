import t from 'tap'
import { defaultConfig } from '../../src/config/load.js'
import { createLogger } from '../../src/ops/logging.js'
import { duplicateKeys } from '../helpers/json-keys.js'

t.test('a key the logger is bound to is written once, whatever a plugin passes', async t => {
  const lines: string[] = []
  const logger = createLogger(
    { ...defaultConfig({}).config, log: { level: 'info', format: 'json' } },
    {
      destination: {
        write(line: string) {
          lines.push(line)
        }
      }
    }
  )
  const relay = logger.child({ relay: 'slack.support' })
  const delivery = relay.child({ conversationId: 'c1', messageId: 'm1' })
  relay.error({ relay: 'slack.support', slackError: 'invalid_auth' }, 'refused')
  delivery.warn({ relay: 'slack.support', messageId: 'm1', channel: 'C1' }, 'retrying')
  delivery.info('plain')
  logger.info({ relay: 'root-has-no-bindings' }, 'root')
  t.equal(lines.length, 4)
  for (const line of lines) t.same(duplicateKeys(line), [], line)
  t.match(JSON.parse(lines[0]!), { relay: 'slack.support', slackError: 'invalid_auth', msg: 'refused' })
  t.match(JSON.parse(lines[1]!), { relay: 'slack.support', conversationId: 'c1', messageId: 'm1', channel: 'C1' })
  t.match(JSON.parse(lines[3]!), { relay: 'root-has-no-bindings' })
})
