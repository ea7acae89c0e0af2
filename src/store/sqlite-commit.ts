import { closeSync, fsync, fsyncSync, openSync } from 'node:fs'
import { dirname } from 'node:path'
import type Database from 'better-sqlite3'

/** How the WAL is flushed to disk (node:fs fsync); tests hold or fail it. */
export type SyncFile = (fd: number, done: (error: Error | null) => void) => void

/** A write waiting for the next shared commit. */
interface Waiting {
  work(): unknown
  /** Needs its fsync before it resolves (an accepted message); a commit of nothing else skips it. */
  durable: boolean
  resolve(result: unknown): void
  reject(error: unknown): void
}

/** A committed write, answered once the commits up to `upTo` are on disk. */
interface Unflushed {
  upTo: number
  settle(error?: unknown): void
}

/** Errors that say the file cannot be written now (full, read-only, failing), rather than that one write was wrong. */
const cannotWrite = (error: unknown) =>
  /^SQLITE_(FULL|IOERR|READONLY|CANTOPEN)/.test((error as { code?: string }).code ?? '')

/**
 * The SQLite store's writes: group commit on the event loop, and the WAL flushed off it. Writes
 * asked for in one turn of the event loop share one transaction, each in its own savepoint; with
 * `walPath` (synchronous FULL on a file), what holds an accept is answered once fsync'd.
 */
export class GroupCommit {
  private waiting: Waiting[] = []
  /** The WAL file, flushed after commits that hold an accept; undefined when nothing is flushed (NORMAL, :memory:). */
  private wal?: number
  /** Writes committed and waiting for a flush. */
  private unflushed: Unflushed[] = []
  private flushing?: Promise<void>
  /** Commits made, the last one that held an accept, and how far they are all on disk. */
  private commits = 0
  private acceptedIn = 0
  private flushedTo = 0
  /** A failed flush: the OS may have dropped what it held, so nothing more is acknowledged. */
  private brokenBy?: Error
  /** Why the last commit could not write (disk full, read-only file system); cleared by the next that could. */
  private failedBy?: Error
  /** Runs a write inside the shared transaction as a savepoint. */
  private readonly savepoint: (work: () => unknown) => unknown
  private readonly syncFile: SyncFile

  constructor(
    private readonly db: Database.Database,
    options: { walPath?: string; syncFile?: SyncFile }
  ) {
    this.savepoint = db.transaction((work: () => unknown) => work())
    this.syncFile = options.syncFile ?? fsync
    if (options.walPath !== undefined) this.openWal(options.walPath)
  }

  /** Set once a flush failed: nothing more is acknowledged. */
  get broken(): Error | undefined {
    return this.brokenBy
  }

  /** Why the last commit could not write, if it could not. */
  get writeFailure(): Error | undefined {
    return this.failedBy
  }

  private openWal(path: string): void {
    this.wal = openSync(`${path}-wal`, 'r')
    // The WAL may be new: its directory entry must reach the disk as well.
    const dir = openSync(dirname(path), 'r')
    try {
      fsyncSync(dir)
    } finally {
      closeSync(dir)
    }
  }

  /**
   * Group commit: every write asked for in one turn of the event loop (accepts, outcomes, leases)
   * shares one transaction (better-sqlite3 runs it on the event loop, so the fewer the better).
   * Each write runs in its own savepoint, so one that fails fails alone. Resolves once committed
   * and once every accept the commit could read is flushed (commitWaiting says why).
   *
   * Only accepted messages are `durable`: the 200 promises GPTBots they survive a power loss. The
   * dispatcher's bookkeeping (leases, outcomes, relay state) is never flushed for its own sake: it
   * reaches the disk with the next accept's flush, or within the OS's writeback. It survives a
   * crash of the process either way; a power loss can lose its last moments, and then deliveries
   * from that moment are made again, in order (the WAL loses a tail, never a middle), as after a
   * crash between posting and recording.
   */
  write<T>(work: () => T, durable: boolean): Promise<T> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ work, durable, resolve: resolve as (result: unknown) => void, reject })
      if (this.waiting.length === 1) setImmediate(() => this.commitWaiting())
    })
  }

  private commitWaiting(): void {
    const batch = this.waiting
    this.waiting = []
    // close() may have committed this batch already.
    if (batch.length === 0) return
    if (this.brokenBy) {
      for (const w of batch) w.reject(this.brokenBy)
      return
    }
    const outcomes: ({ ok: true; value: unknown } | { ok: false; error: unknown })[] = []
    try {
      this.db.transaction(() => {
        for (const w of batch) {
          try {
            outcomes.push({ ok: true, value: this.savepoint(w.work) })
          } catch (error) {
            outcomes.push({ ok: false, error })
          }
        }
      })()
    } catch (error) {
      this.failedBy = error as Error
      for (const w of batch) w.reject(error)
      return
    }
    const failed = outcomes.find(o => !o.ok && cannotWrite(o.error))
    this.failedBy = failed && !failed.ok ? (failed.error as Error) : undefined
    const commit = ++this.commits
    if (batch.some(w => w.durable)) this.acceptedIn = commit
    // Every write is answered once the last accept it could see is on disk: what the dispatcher
    // reads (a lane's next message, say) may be an accept, and it must not post what a power loss
    // could take back. Bookkeeping that follows flushed accepts only is answered at once.
    const upTo = this.wal === undefined ? 0 : this.acceptedIn
    batch.forEach((w, i) => {
      const outcome = outcomes[i]!
      if (!outcome.ok) w.reject(outcome.error)
      else if (upTo > this.flushedTo)
        this.unflushed.push({
          upTo,
          settle: error => (error === undefined ? w.resolve(outcome.value) : w.reject(error))
        })
      else w.resolve(outcome.value)
    })
    this.flush()
  }

  /**
   * Puts what is committed on disk: one fsync of the WAL, run in libuv's thread pool while the
   * event loop takes the next requests, covers every commit made before it started. Commits made
   * meanwhile wait for the next one (group commit). This is the flush SQLite makes itself with
   * synchronous FULL, moved off the event loop.
   */
  private flush(): void {
    if (this.flushing || this.unflushed.length === 0 || this.wal === undefined) return
    if (this.brokenBy) {
      const answering = this.unflushed
      this.unflushed = []
      for (const waiting of answering) waiting.settle(this.brokenBy)
      return
    }
    const covers = this.commits
    this.flushing = new Promise(resolve => {
      this.syncFile(this.wal!, error => {
        this.flushing = undefined
        // After a failed fsync the kernel may have dropped the pages it could not write, and a later
        // fsync can succeed without them: nothing that followed can be promised either.
        if (error)
          this.brokenBy ??= new Error(
            `could not flush the SQLite WAL to disk; the store accepts nothing more: ${error.message}`,
            { cause: error }
          )
        else this.flushedTo = covers
        const answering = error ? this.unflushed : this.unflushed.filter(w => w.upTo <= covers)
        this.unflushed = error ? [] : this.unflushed.filter(w => w.upTo > covers)
        for (const waiting of answering) waiting.settle(error ? this.brokenBy : undefined)
        resolve()
        this.flush()
      })
    })
  }

  /** Resolves once an operator's change, committed just now outside the write queue, is on disk. */
  flushed(): Promise<void> {
    this.acceptedIn = ++this.commits
    if (this.wal === undefined) return Promise.resolve()
    return new Promise((resolve, reject) => {
      this.unflushed.push({ upTo: this.acceptedIn, settle: error => (error === undefined ? resolve() : reject(error)) })
      this.flush()
    })
  }

  /** Commits what waits and flushes what is left, here and now: the process is about to stop. */
  async close(): Promise<void> {
    if (this.waiting.length > 0) this.commitWaiting()
    while (this.flushing) await this.flushing
    if (this.wal === undefined) return
    const answering = this.unflushed
    this.unflushed = []
    try {
      if (answering.length > 0) fsyncSync(this.wal)
      for (const waiting of answering) waiting.settle()
    } catch (error) {
      for (const waiting of answering) waiting.settle(error)
    }
    closeSync(this.wal)
    this.wal = undefined
  }
}
