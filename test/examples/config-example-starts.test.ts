import { copyFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { seedExample } from '../../src/intake/seed.js'
import { startRelay, until } from '../helpers/process.js'
import { onlyThese } from './env.js'

// The README's "run it for real" step: `cp config.example.json config.json && npm start`, on a
// machine where the only thing the user has set is their bot's API key.
t.test(
  'config.example.json, copied to config.json, starts with only GPTBOTS_API_KEY set and takes a webhook',
  async t => {
    const dir = t.testdir({})
    copyFileSync('config.example.json', join(dir, 'config.json'))
    const key = 'app-4f1c9d2e8b7a6c5d4e3f2a1b'
    const relay = await startRelay(t, ['start'], { cwd: dir, env: onlyThese({ GPTBOTS_API_KEY: key }) })
    t.notMatch(relay.stderr(), /no config file/, 'it found config.json in the working directory')

    const post = (authorization?: string) =>
      fetch(`${relay.url}/webhook`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
        body: JSON.stringify(seedExample('65a4ccfC7ce58e728d5897e0'))
      })
    t.equal((await post()).status, 401, 'the webhook needs the key')
    const accepted = await post(`Bearer ${key}`)
    t.same(await accepted.json(), { code: 200, msg: 'success' })
    t.ok(await until(() => relay.stdout().includes('Hi, is there anything I can help you?')), relay.stderr())
    t.match(relay.stdout(), /default\/657303a8a764d47094874bbe · bot ·/)

    relay.child.kill('SIGTERM')
    t.equal(await relay.exited, 0, 'SIGTERM stops it cleanly')
  }
)
