import { join } from 'node:path'
import t from 'tap'
import { SqliteStore } from '../../src/store/sqlite.js'
import type { Store } from '../../src/store/types.js'
import { storeContract } from './contract.js'

storeContract(t, 'sqlite', async t => {
  const path = join(t.testdir(), 'relay.db')
  let store: Store = new SqliteStore({ path })
  return {
    get store() {
      return store
    },
    async reopen() {
      await store.close()
      store = new SqliteStore({ path })
      return store
    },
    // t.testdir() removes the directory itself.
    cleanup: () => store.close()
  }
})
