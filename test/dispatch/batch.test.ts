import { join } from 'node:path'
import t from 'tap'
import { SqliteStore } from '../../src/store/sqlite.js'
import type { Store } from '../../src/store/types.js'
import { batchSuite } from './fixtures/batch-suite.js'

batchSuite(t, async t => {
  const path = join(t.testdir(), 'relay.db')
  let store: Store = new SqliteStore({ path })
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
      store = new SqliteStore({ path })
      open = true
      return store
    },
    childSpec: { sqlite: path }
  }
})
