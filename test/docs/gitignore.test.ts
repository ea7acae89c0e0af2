import { execFileSync } from 'node:child_process'
import { copyFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'

// The files the docs tell users to create hold secrets: a `git add .` must leave them out. Checked
// in a fresh repository holding only the project's .gitignore, so the answer is git's own.
t.test('.gitignore keeps the secrets the docs tell users to create out of commits', async t => {
  const dir = t.testdir({})
  copyFileSync('.gitignore', join(dir, '.gitignore'))
  execFileSync('git', ['init', '-q'], { cwd: dir })
  const ignored = (path: string): boolean => {
    try {
      execFileSync('git', ['check-ignore', '-q', '--no-index', path], { cwd: dir })
      return true
    } catch (error) {
      if ((error as { status?: number }).status === 1) return false
      throw error
    }
  }
  for (const path of [
    'config.json',
    'relay.json',
    '.env',
    '.env.production',
    'secrets/sales-bot-api-key',
    'data/relay.db',
    'relay.db-wal',
    'tls/relay.key'
  ]) {
    t.ok(ignored(path), `${path} is ignored`)
  }
  for (const path of [
    'config.example.json',
    'container/config.json',
    'examples/slack.json',
    '.env.example',
    'docker-compose.example.yml',
    'src/config/load.ts'
  ]) {
    t.notOk(ignored(path), `${path} is not ignored`)
  }
})
