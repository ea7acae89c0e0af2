import { readFileSync } from 'node:fs'
import t from 'tap'
import { Errors } from '../src/errors.js'

t.test("every error code is in the README's error reference, with its status", async t => {
  const readme = readFileSync('README.md', 'utf8')
  const table = readme.slice(readme.indexOf('## Errors'))
  for (const [code, { status }] of Object.entries(Errors)) {
    t.match(table, new RegExp(`\\| \`${code}\` \\| ${status} \\|`), code)
  }
})
