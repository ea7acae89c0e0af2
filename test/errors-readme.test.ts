import { readFileSync } from 'node:fs'
import t from 'tap'
import { Errors } from '../src/errors.js'

// The table lives in docs/errors.md; the README links to it from its Operating section.
t.test('every error code is in the error reference (docs/errors.md), with its status', async t => {
  const reference = readFileSync('docs/errors.md', 'utf8')
  const table = reference.slice(reference.indexOf('| code'))
  for (const [code, { status }] of Object.entries(Errors)) {
    t.match(table, new RegExp(`\\| \`${code}\` +\\| ${status} +\\|`), code)
  }
  t.match(readFileSync('README.md', 'utf8'), '(docs/errors.md)', 'the README links to it')
})
