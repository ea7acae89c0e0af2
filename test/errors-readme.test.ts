import { readFileSync } from 'node:fs'
import t from 'tap'
import { Errors } from '../src/errors.js'

t.test("every error code is in the README's error reference, with its status", async t => {
  const readme = readFileSync('README.md', 'utf8')
  const table = readme.slice(readme.indexOf('## Errors'))
  // Columns may be padded to line up, or not.
  for (const [code, { status }] of Object.entries(Errors)) {
    t.match(table, new RegExp(`\\|\\s*\`${code}\`\\s*\\|\\s*${status}\\s*\\|`), code)
  }
})
