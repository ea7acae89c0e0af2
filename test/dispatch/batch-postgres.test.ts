import t from 'tap'
import { openPostgresStore } from '../../src/store/postgres.js'
import type { Store } from '../../src/store/types.js'
import { postgresOrSkip } from '../helpers/postgres.js'
import { batchSuite } from './fixtures/batch-suite.js'

const db = await postgresOrSkip(t)

if (db) {
  batchSuite(t, async t => {
    const schema = await db.schema(t, { create: false })
    let store: Store = await openPostgresStore({ url: db.url, schema, poolSize: 4 })
    let open = true
    return {
      get store() {
        return store
      },
      async close() {
        if (open) await store.close()
        open = false
      },
      async reopen() {
        if (open) await store.close()
        store = await openPostgresStore({ url: db.url, schema, poolSize: 4 })
        open = true
        return store
      },
      childSpec: { postgres: { url: db.url, schema } }
    }
  })
}
