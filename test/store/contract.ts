import type { Test } from 'tap'
// The parts live under fixtures/, which tap does not run as test files of their own.
import { acceptContract } from './fixtures/accept-contract.js'
import { batchContract } from './fixtures/batch-contract.js'
import { claimContract } from './fixtures/claims-contract.js'
import { laneContract } from './fixtures/lanes-contract.js'
import { outboxAdminContract } from './fixtures/outbox-admin-contract.js'
import { stateContract } from './fixtures/state-contract.js'
import type { MakeStore } from './fixtures/store.js'

export type { MakeStore, StoreFixture } from './fixtures/store.js'

/**
 * What every store must do, whatever the database: each driver's test file runs this with a
 * `makeStore` that opens it on fresh data. Times are passed in, never read from the clock.
 */
export function storeContract(t: Test, name: string, makeStore: MakeStore): void {
  t.test(`${name} store contract`, async t => {
    acceptContract(t, makeStore)
    laneContract(t, makeStore)
    claimContract(t, makeStore)
    stateContract(t, makeStore)
    outboxAdminContract(t, makeStore)
    batchContract(t, makeStore)
  })
}
