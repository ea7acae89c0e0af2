import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { startRelay, until } from '../helpers/process.js'

const OLD = 'the-old-token-0123456789'
const NEW = 'the-new-token-9876543210'

t.test(
  'SIGHUP reloads the config file of a running relay; a broken file is refused and the process serves on',
  async t => {
    const dir = t.testdir({})
    const file = join(dir, 'relay.json')
    const config = (token: string) =>
      JSON.stringify({
        auth: { tokens: [token] },
        store: { driver: 'sqlite', path: join(dir, 'relay.db') },
        relays: { console: { type: 'console' } },
        log: { level: 'info' }
      })
    writeFileSync(file, config(OLD))
    const relay = await startRelay(t, ['start', '--config', file])
    const send = (token: string, id: string) =>
      fetch(`${relay.url}/webhook`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({
          message_id: id,
          message_type: 'ANSWER',
          text: `text of ${id}`,
          create_time: 1679587005,
          conversation_id: 'sighup-conversation'
        })
      }).then(res => res.status)

    t.equal(await send(OLD, 'm1'), 200)
    writeFileSync(file, config(NEW))
    process.kill(relay.child.pid!, 'SIGHUP')
    t.ok(await until(() => relay.stderr().includes('config reloaded'), 10000), 'the reload is logged')
    t.equal(await send(NEW, 'm2'), 200, 'the new token is taken')
    t.equal(await send(OLD, 'm3'), 401, 'the old one is refused')

    writeFileSync(file, '{ "auth": ')
    process.kill(relay.child.pid!, 'SIGHUP')
    t.ok(await until(() => relay.stderr().includes('config reload refused'), 10000), 'the refusal is logged')
    t.match(relay.stderr(), /relay\.json:1:11: not valid JSON: a value is missing here/, 'saying what is wrong')
    t.equal(relay.child.exitCode, null, 'the process did not exit')
    t.equal(await send(NEW, 'm4'), 200, 'it serves on with the config it had')
    t.ok(await until(() => relay.stdout().includes('text of m4'), 10000), 'and delivers')
    t.ok(relay.stdout().includes('text of m2'))

    relay.child.kill('SIGTERM')
    t.equal(await relay.exited, 0, 'and still shuts down cleanly on SIGTERM')
  }
)
