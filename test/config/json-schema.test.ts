import { readFileSync } from 'node:fs'
import t from 'tap'
import { configJsonSchema } from '../../src/config/json-schema.js'

t.test('config.schema.json is generated from the TypeBox schemas and up to date (npm run schema)', async t => {
  const committed = JSON.parse(readFileSync('config.schema.json', 'utf8'))
  t.same(committed, await configJsonSchema())
  t.same(committed.required, ['relays'], 'sections with defaults may be left out')
  const entry = Object.values(committed.properties.relays.patternProperties)[0] as {
    allOf: { if: { properties: { type: { const: string } } } }[]
  }
  t.same(
    entry.allOf.map(rule => rule.if.properties.type.const),
    ['console', 'slack', 'discord'],
    "every built-in relay's options are included"
  )
})
