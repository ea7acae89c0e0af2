import { writeFileSync } from 'node:fs'
import { configJsonSchema } from '../src/config/json-schema.js'

// Regenerates config.schema.json from the TypeBox schemas; test/config/json-schema.test.ts fails when it is stale.
writeFileSync(
  new URL('../config.schema.json', import.meta.url),
  JSON.stringify(await configJsonSchema(), null, 2) + '\n'
)
console.log('wrote config.schema.json')
