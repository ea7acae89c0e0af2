import { readdirSync } from 'node:fs'
import t from 'tap'
import { runCli } from '../helpers/process.js'
import { documentedExamples, onlyThese, plausible, requiredVariables } from './env.js'

const documented = documentedExamples()

t.test('every example is in the table of examples/README.md, with the variables it reads', async t => {
  const files = [
    'config.example.json',
    ...readdirSync('examples')
      .filter(f => f.endsWith('.json'))
      .map(f => `examples/${f}`)
  ]
  t.same([...documented.keys()].sort(), files.sort(), 'the table lists every example file, and only those')
  for (const [file, variables] of documented) {
    t.same([...variables].sort(), requiredVariables(file), `${file}: the table names exactly the variables it reads`)
    for (const variable of variables) t.ok(plausible[variable], `${variable} has a plausible test value`)
  }
})

for (const [file, variables] of documented) {
  t.test(`check-config ${file}: valid with its variables set, refused without them`, async t => {
    const env = Object.fromEntries(variables.map(v => [v, plausible[v]!]))
    const good = await runCli(['check-config', file], { env: onlyThese(env) })
    t.equal(good.code, 0, good.stderr)
    t.match(good.stdout, /is valid: \d+ relay\(s\)/)
    // Which variables a file reads is held to the table above; here, that going without them is refused by name.
    const bare = await runCli(['check-config', file], { env: onlyThese({}) })
    t.equal(bare.code, 1, `${file} without its variables`)
    t.match(bare.stderr, new RegExp(`environment variable (${variables.join('|')}) is not set`), `${file} names one`)
  })
}
