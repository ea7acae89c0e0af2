import { join } from 'node:path'
import Database from 'better-sqlite3'
import t from 'tap'
import type { RelayMessage } from '../../src/message.js'
import { SqliteStore } from '../../src/store/sqlite.js'
import { claim, message } from './fixtures/store.js'

// The SQLite store commits every write of one event-loop turn together (one fsync for many).
// These protect what that sharing must not change.

t.test('a write that fails in a shared commit fails alone', async t => {
  const path = join(t.testdir(), 'relay.db')
  const store = new SqliteStore({ path })
  t.teardown(() => store.close())
  const first = message({ conversationId: 'a' })
  const third = message({ conversationId: 'b' })
  // NOT NULL on conversation_id: this insert fails inside the transaction the others share.
  const broken = message({ conversationId: null as unknown as string })
  const [one, two, three] = await Promise.allSettled([
    store.accept(first, ['slack']),
    store.accept(broken, ['slack']),
    store.accept(third, ['slack'])
  ])
  t.equal(one.status, 'fulfilled')
  t.equal(two.status, 'rejected')
  t.match((two as PromiseRejectedResult).reason, { code: 'SQLITE_CONSTRAINT_NOTNULL' })
  t.equal(three.status, 'fulfilled')
  t.strictSame(await store.pendingByRelay(), { slack: 2 }, 'the others are stored, the broken one left nothing behind')
  t.strictSame((await claim(store)).map(l => l.conversationId).sort(), ['a', 'b'])
})

t.test('writes of one turn keep their order and are on disk once they resolve', async t => {
  const path = join(t.testdir(), 'relay.db')
  const store = new SqliteStore({ path })
  const messages: RelayMessage[] = Array.from({ length: 50 }, () => message())
  const results = await Promise.all(messages.map(m => store.accept(m, ['slack'])))
  const seqs = results.map(r => r.seq!)
  t.strictSame(
    seqs,
    [...seqs].sort((a, b) => a - b),
    'seq follows the order of the calls'
  )
  // A lease-only commit in between must not leave the connection without its fsync.
  const [lane] = await claim(store)
  await store.releaseLane(lane!.id, 'bench')
  await store.close()
  const db = new Database(path, { readonly: true })
  t.teardown(() => db.close())
  const ids = db.prepare('SELECT message_id FROM messages ORDER BY seq').pluck().all()
  t.strictSame(
    ids,
    messages.map(m => m.messageId)
  )
})

/** A WAL flush the test lets through (or fails) when it chooses. */
function heldFlushes() {
  const held: ((error: Error | null) => void)[] = []
  return {
    held,
    syncFile: (_fd: number, done: (error: Error | null) => void) => {
      held.push(done)
    },
    /** Lets the oldest flush finish, as the disk would. */
    release(error: Error | null = null) {
      held.shift()!(error)
    }
  }
}

const turns = async (n = 3) => {
  for (let i = 0; i < n; i++) await new Promise(resolve => setImmediate(resolve))
}

/** Whether a promise has settled, without waiting for it. */
function settled(promise: Promise<unknown>): () => boolean {
  let done = false
  promise.then(
    () => {
      done = true
    },
    () => {
      done = true
    }
  )
  return () => done
}

t.test('an accept is answered only once the WAL holding it is flushed, and nothing reads it before', async t => {
  const path = join(t.testdir(), 'relay.db')
  const flushes = heldFlushes()
  const store = new SqliteStore({ path, syncFile: flushes.syncFile })
  t.teardown(() => store.close())

  const accepted = store.accept(message({ conversationId: 'a' }), ['slack'])
  const acceptDone = settled(accepted)
  await turns()
  t.equal(flushes.held.length, 1, 'the commit asked for a flush')
  t.notOk(acceptDone(), 'not answered while the flush runs')

  // Committed after the accept and while its flush runs: the dispatcher must not act on what it read.
  const claimed = claim(store)
  const claimDone = settled(claimed)
  await turns()
  t.notOk(claimDone(), 'a claim that could see the accept waits for the same flush')
  t.equal(flushes.held.length, 1, 'one flush at a time')

  flushes.release()
  t.match(await accepted, { duplicate: false })
  t.strictSame(
    (await claimed).map(l => l.conversationId),
    ['a']
  )
  await turns()
  t.equal(flushes.held.length, 0, 'the claim needed only the accept on disk, not a flush of its own')

  // Bookkeeping after flushed accepts only needs no flush at all.
  const before = flushes.held.length
  const [lane] = await claim(store, { now: Date.now() + 120_000 })
  t.ok(lane, 'the lane, its lease run out, is claimed again')
  await store.releaseLane(lane!.id, 'a')
  t.equal(flushes.held.length, before, 'no flush for leases alone')
})

t.test('writes committed while a flush runs share the next one', async t => {
  const path = join(t.testdir(), 'relay.db')
  const flushes = heldFlushes()
  const store = new SqliteStore({ path, syncFile: flushes.syncFile })
  t.teardown(() => store.close())
  const first = store.accept(message(), ['slack'])
  await turns()
  const later = Array.from({ length: 20 }, () => store.accept(message(), ['slack']))
  await turns()
  t.equal(flushes.held.length, 1, 'the later accepts wait for the flush in flight to end')
  flushes.release()
  await first
  await turns()
  t.equal(flushes.held.length, 1, 'then one flush for all twenty')
  flushes.release()
  t.equal((await Promise.all(later)).length, 20)
})

t.test('a failed flush fails its accepts and every write after it', async t => {
  const path = join(t.testdir(), 'relay.db')
  const flushes = heldFlushes()
  const store = new SqliteStore({ path, syncFile: flushes.syncFile })
  t.teardown(() => store.close())
  const accepted = store.accept(message(), ['slack'])
  await turns()
  flushes.release(Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' }))
  await t.rejects(accepted, /could not flush the SQLite WAL to disk.*EIO/)
  // The kernel may have dropped the pages it could not write: nothing later may be promised.
  await t.rejects(store.accept(message(), ['slack']), /could not flush/)
  await t.rejects(store.ping(), /could not flush/, 'readiness says so')
  t.equal(flushes.held.length, 0, 'no flush is tried again')
})

t.test('with synchronous NORMAL nothing is flushed', async t => {
  const path = join(t.testdir(), 'relay.db')
  const flushes = heldFlushes()
  const store = new SqliteStore({ path, synchronous: 'NORMAL', syncFile: flushes.syncFile })
  t.teardown(() => store.close())
  await store.accept(message(), ['slack'])
  t.equal(flushes.held.length, 0)
})

t.test('close flushes what is still waiting and answers it', async t => {
  const path = join(t.testdir(), 'relay.db')
  let flushed = 0
  const store = new SqliteStore({
    path,
    syncFile: (_fd, done) => {
      flushed++
      setTimeout(() => done(null), 20)
    }
  })
  const accepts = Array.from({ length: 5 }, () => store.accept(message(), ['slack']))
  await store.close()
  t.equal((await Promise.all(accepts)).length, 5)
  t.ok(flushed >= 1)
})
