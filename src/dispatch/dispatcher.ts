import { randomUUID } from 'node:crypto'
import { asRunRelay } from '../relays/run-adapter.js'
import type { Relay, RelayLogger, RelayTurn, RunOutcome, RunRelay } from '../relays/types.js'
import type { ConversationStateStore, Lane, Outbox, PendingDelivery } from '../store/types.js'
import { Attempts } from './attempts.js'
import { systemClock, type Clock } from '../clock.js'
import { RelayHolds, type HeldRelay } from './holds.js'
import { type AttemptEvent, RunRecorder, type Step } from './recorder.js'
import { offerable, runLimit } from './runs.js'

export type { AttemptEvent } from './recorder.js'
export { messageChars, offerable } from './runs.js'

export interface DispatchPolicy {
  concurrency: number
  maxAttempts: number
  backoffBaseMs: number
  backoffMaxMs: number
  deliveryTimeoutMs: number
  pollIntervalMs: number
  /** How long a claimed lane stays ours without renewal; other replicas take it over after that. */
  leaseMs?: number
  /**
   * A lane's turn: after this many posts (single or combined), or this long, a lane gives its slot
   * back when every slot is taken and another lane is waiting, so that one busy conversation cannot
   * keep the others (a new conversation's first message above all) waiting behind its backlog.
   */
  laneTurnPosts?: number
  laneTurnMs?: number
}

/** A lane's turn when none is configured: a few posts, or a second, whichever comes first. */
export const defaultLaneTurn = { posts: 4, ms: 1000 }

/** The lease when none is configured: a dead replica's lanes move on within seconds. */
export const defaultLeaseMs = 5000

/** The shortest time between two looks at the store woken by other replicas (see remoteWake). */
const remoteWakeGapMs = 50

export interface DispatcherOptions extends DispatchPolicy {
  store: Outbox & ConversationStateStore
  relays: ReadonlyMap<string, Relay>
  logger: RelayLogger & { child?(bindings: object): RelayLogger }
  clock?: Clock
  random?: () => number
  owner?: string
  /** How often a relay held for refused credentials lets one delivery try again; default 60 s. */
  holdRecheckMs?: number
  /**
   * A delivery running longer than this stops holding its slot (default: the lesser of 5 s and
   * half of deliveryTimeoutMs), so that hung conversations cannot keep all the others waiting.
   */
  stallMs?: number
  onAttempt?(event: AttemptEvent): void
  /** Removes secrets from an error before it is stored (a receiver or SDK may echo credentials). */
  scrub?(text: string): string
}

/**
 * Delivers from the store's outbox: one lane (conversation × relay) at a time in strict order,
 * many lanes in parallel up to `concurrency`. A lane that fails waits for its retry; the others go on.
 */
export class Dispatcher {
  readonly owner: string
  private readonly store: Outbox & ConversationStateStore
  private relays: ReadonlyMap<string, Relay>
  private readonly clock: Clock
  private readonly random: () => number
  private leaseMs: number
  private readonly active = new Map<number, Promise<void>>()
  private readonly attempts: Attempts
  private readonly recorder: RunRecorder
  private stopping = false
  private running?: Promise<void>
  private wake?: () => void
  /** Work arrived while the loop was busy claiming: it must look again rather than sleep. */
  private woken = false
  private claiming = false
  private renewTimer?: NodeJS.Timeout
  private readonly holds: RelayHolds
  private unwatch?: () => void
  /** Another replica's wake-ups: at most one per remoteWakeGapMs, the last never dropped. */
  private remoteWakeTimer?: NodeJS.Timeout
  private remoteWakeMissed = false
  /**
   * Lanes still leased to us that we could not give back (the store was away): given back as soon
   * as it answers again, so that they do not wait for their lease to run out.
   */
  private readonly unreleased = new Set<number>()
  constructor(private options: DispatcherOptions) {
    this.store = options.store
    this.relays = options.relays
    this.clock = options.clock ?? systemClock
    this.random = options.random ?? Math.random
    this.leaseMs = Dispatcher.leaseFor(options)
    this.owner = options.owner ?? randomUUID()
    this.holds = new RelayHolds(options.logger, options.holdRecheckMs ?? 60_000)
    // Lanes whose attempt has run longer than stallMs no longer count against `concurrency`, so
    // hung conversations cannot make all the others wait out the delivery timeout (see room).
    this.attempts = new Attempts(
      this.store,
      options.logger,
      () => this.options,
      () => this.notify()
    )
    this.recorder = new RunRecorder({
      store: this.store,
      owner: this.owner,
      logger: options.logger,
      policy: () => this.options,
      random: this.random,
      now: () => this.clock.now(),
      scrub: options.scrub,
      onAttempt: options.onAttempt,
      hold: (delivery, error, durationMs) => this.holdRelay(delivery, error, durationMs)
    })
  }

  private static leaseFor(options: DispatcherOptions): number {
    // Short, because a heartbeat renews it while a delivery runs (however long that takes): it
    // only has to outlast a few missed renewals, not a delivery.
    return options.leaseMs ?? defaultLeaseMs
  }

  /** The relays whose lanes may be claimed now: a held relay's wait, but for its re-check. */
  private get relayNames(): string[] {
    return this.holds.claimable([...this.relays.keys()], this.clock.now())
  }

  /** The relays holding their deliveries because the platform refused their credentials. */
  heldRelays(): Map<string, HeldRelay> {
    return this.holds.current()
  }

  /** Starts delivering in the background until stop(). */
  start(): void {
    if (this.running) return
    this.stopping = false
    // Replicas sharing the store wake each other when they take a message.
    this.unwatch = this.store.watch?.(() => this.remoteWake())
    this.startRenewing()
    this.running = this.loop()
  }

  private startRenewing(): void {
    clearInterval(this.renewTimer)
    this.renewTimer = setInterval(
      () => {
        void this.renewLeases()
      },
      // Three renewals per lease: one slow or failed renewal does not lose a lane.
      Math.max(100, this.leaseMs / 3)
    )
    this.renewTimer.unref()
  }

  /**
   * Delivers with these relays from now on (a config reload). A claim, and a lane's next message,
   * use the new instances; an attempt already running on an old instance is not cut short. Resolves
   * when no attempt runs any more on an instance that is not in `relays`, so that it can be closed.
   */
  async useRelays(relays: ReadonlyMap<string, Relay>): Promise<void> {
    this.relays = relays
    // The reload may have fixed a held relay's credentials: each lets a delivery try now.
    this.holds.recheck(new Set(relays.keys()), this.clock.now())
    const current = new Set(relays.values())
    const leftover = this.attempts.runningOutside(current)
    // A relay that returned may have messages waiting for it.
    this.notify()
    await Promise.allSettled(leftover)
  }

  /** New limits and timings (a config reload), used from the next claim and attempt on. */
  usePolicy(policy: DispatchPolicy): void {
    this.options = { ...this.options, ...policy }
    const leaseMs = Dispatcher.leaseFor(this.options)
    if (leaseMs === this.leaseMs) return
    this.leaseMs = leaseMs
    if (this.running && !this.stopping) this.startRenewing()
  }

  /** New work was stored: look now instead of at the next poll. */
  notify(): void {
    this.woken = true
    this.wake?.()
  }

  /**
   * Another replica stored work. It says so once per batch it stores, and every wake costs this
   * replica a claim and a look at the store, which the replica that stored the work has mostly
   * made already: so with N replicas each message would cost N claims. Wake-ups are let through at
   * most once per remoteWakeGapMs; one that comes within the gap wakes the loop when it ends.
   */
  private remoteWake(): void {
    if (this.remoteWakeTimer) {
      this.remoteWakeMissed = true
      return
    }
    this.notify()
    this.remoteWakeTimer = setTimeout(() => {
      this.remoteWakeTimer = undefined
      if (!this.remoteWakeMissed || this.stopping) return
      this.remoteWakeMissed = false
      this.remoteWake()
    }, remoteWakeGapMs)
    this.remoteWakeTimer.unref()
  }

  /** Delivers everything due now, then returns. For tests and one-shot runs; do not mix with start(). */
  async drain(): Promise<void> {
    for (;;) {
      const { started } = await this.claim()
      if (started === 0 && this.active.size === 0) return
      await Promise.all(this.active.values())
    }
  }

  /** Stops claiming, lets deliveries in flight finish for up to `timeoutMs`, then abandons them unrecorded. */
  async stop(timeoutMs: number): Promise<void> {
    this.stopping = true
    this.wake?.()
    clearInterval(this.renewTimer)
    clearTimeout(this.remoteWakeTimer)
    this.remoteWakeTimer = undefined
    this.unwatch?.()
    this.unwatch = undefined
    const settled = Promise.all(this.active.values())
    let timer: NodeJS.Timeout | undefined
    const timedOut = await Promise.race([
      settled.then(() => false),
      new Promise<boolean>(resolve => {
        timer = setTimeout(() => resolve(true), timeoutMs)
      })
    ])
    clearTimeout(timer)
    if (timedOut) {
      this.options.logger.warn(
        { deliveries: this.attempts.size },
        'shutdown: abandoning deliveries still in flight; they stay pending and run again at the next start'
      )
      this.attempts.abandonAll()
      await settled
    }
    await this.running
    this.running = undefined
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      // A notify from here on may come after the claim below has read the store: it sets woken again.
      this.woken = false
      let wait = this.options.pollIntervalMs
      try {
        await this.releaseLeftovers()
        const { started, nextDueAt: due } = await this.claim()
        if (started > 0 && this.room() > 0) continue
        if (this.room() > 0) {
          const now = this.clock.now()
          if (due !== undefined) wait = Math.min(wait, Math.max(5, due - now))
          const recheck = this.holds.nextCheckAt()
          if (recheck !== undefined) wait = Math.min(wait, Math.max(5, recheck - now))
        }
      } catch (error) {
        this.options.logger.error({ err: error }, 'dispatcher could not read the store; trying again')
      }
      if (!this.stopping) await this.sleep(wait)
    }
  }

  private sleep(ms: number): Promise<void> {
    if (this.woken) return Promise.resolve()
    return new Promise(resolve => {
      const timer = setTimeout(done, ms)
      function done() {
        clearTimeout(timer)
        resolve()
      }
      this.wake = () => {
        this.wake = undefined
        done()
      }
    })
  }

  /** How many more lanes may start: slots not held by a running (and not stalled) delivery, within the hard bound. */
  private room(): number {
    const { concurrency } = this.options
    // At most as many again may stall (2 × concurrency lanes in all), so a platform that hangs on
    // every request does not pull ever more lanes in.
    return Math.min(concurrency - (this.active.size - this.attempts.stalled.size), 2 * concurrency - this.active.size)
  }

  /**
   * Claims as many due lanes as there is room for, with their runs, and starts each; returns how
   * many, and when the next lane falls due (when the store was asked).
   */
  private async claim(): Promise<{ started: number; nextDueAt?: number }> {
    if (this.claiming || this.stopping) return { started: 0 }
    const room = this.room()
    if (room <= 0) return { started: 0 }
    this.claiming = true
    try {
      const relays = this.relayNames
      const claimed = await this.store.claimRuns({
        owner: this.owner,
        now: this.clock.now(),
        limit: room,
        leaseMs: this.leaseMs,
        relays,
        runLimits: Object.fromEntries(relays.map(name => [name, runLimit(this.runRelay(name))]))
      })
      for (const { lane, run } of claimed.runs) this.startLane(lane, run)
      return { started: claimed.runs.length, nextDueAt: claimed.nextDueAt }
    } finally {
      this.claiming = false
    }
  }

  /** Runs a claimed lane, after the run it may still have here (one run at a time per lane). */
  private startLane(lane: Lane, first: PendingDelivery[]): void {
    this.unreleased.delete(lane.id)
    // A lane already running here came back because its lease ran out under it (renewals failed or
    // came late), or because its run has just released it: the new run starts after the old, which
    // may still be delivering, and reads the lane again, since the old one may have moved it on.
    const previous = this.active.get(lane.id)
    const run: Promise<void> = (
      previous ? previous.then(() => this.runLane(lane, [])) : this.runLane(lane, first)
    ).then(leftOver => {
      // A lane released with its last outcome may have been claimed again, by a claim that
      // resolved before this: that run's entry is not ours to remove.
      if (this.active.get(lane.id) === run) {
        this.active.delete(lane.id)
        // The store was away: the loop gives the lane back once it answers, rather than letting it wait out its lease.
        if (leftOver) this.unreleased.add(lane.id)
      }
      this.notify()
    })
    this.active.set(lane.id, run)
  }

  /** The relay of this name as the dispatcher delivers through it (see asRunRelay). */
  private runRelay(name: string): RunRelay | undefined {
    const relay = this.relays.get(name)
    return relay && asRunRelay(relay)
  }

  /** Gives back lanes a store outage left leased to us; stops at the first failure (the store is still away). */
  private async releaseLeftovers(): Promise<void> {
    for (const id of this.unreleased) {
      await this.store.releaseLane(id, this.owner)
      this.unreleased.delete(id)
    }
  }

  private async renewLeases(): Promise<void> {
    if (this.active.size === 0) return
    try {
      await this.store.renewLeases(this.owner, [...this.active.keys()], this.clock.now() + this.leaseMs)
    } catch (error) {
      this.options.logger.error({ err: error }, 'could not renew lane leases')
    }
  }

  /** Delivers a lane's messages while they are due; true when the lane could not be given back (the store was away). */
  private async runLane(lane: Lane, first: PendingDelivery[]): Promise<boolean> {
    let released: boolean
    try {
      released = await this.deliverLane(lane, first)
    } finally {
      this.holds.abandoned(lane.relay, lane.id)
    }
    if (released) return false
    return this.store.releaseLane(lane.id, this.owner).then(
      () => false,
      () => true
    )
  }

  /** The lane's runs, in order, from the claimed one on; true when the store released the lane along with its last outcome. */
  private async deliverLane(lane: Lane, first: PendingDelivery[]): Promise<boolean> {
    try {
      // After the first step, the lane's next run comes back with the outcome of the one before.
      let run = first
      const turn = { posts: 0, since: this.clock.now() }
      while (!this.stopping) {
        if (run.length === 0) {
          run = await this.store.readRun(lane.id, runLimit(this.runRelay(lane.relay)))
          if (run.length === 0) return false
        }
        // Looked up per step, with no wait between here and the attempt, which useRelays then
        // counts: after a reload the lane goes on with the new instance, or stops when its relay was removed.
        const relay = this.relays.get(lane.relay)
        if (!relay || !this.holds.mayAttempt(lane.relay, lane.id, this.clock.now())) return false
        const step = await this.deliverRun(lane, relay, run)
        if (step === 'stop') return false
        if (step.next.length === 0) return step.released
        run = step.next
        turn.posts++
        if (await this.turnIsOver(turn)) return false
      }
    } catch (error) {
      this.options.logger.error(
        { err: error, relay: lane.relay, conversationId: lane.conversationId },
        'lane stopped by a store error; it is retried later'
      )
    }
    return false
  }

  /**
   * One relay call for the lane's run. A relay that takes turns has its platform slot for the
   * conversation first, then the run as it is now, so that what arrived while the lane waited goes
   * out in the same post; the turn is given back when the call is over, used or not.
   */
  private async deliverRun(lane: Lane, relay: Relay, known: PendingDelivery[]): Promise<Step> {
    const runRelay = asRunRelay(relay)
    let turn: RelayTurn | undefined
    try {
      let run = known
      if (runRelay.takeTurn) {
        const taken = await this.attempts.takeTurn(runRelay, run[0] as PendingDelivery)
        if (taken === 'stop') return 'stop'
        turn = taken
        if (turn) run = await this.store.readRun(lane.id, runLimit(runRelay))
        if (run.length === 0) return { next: [], released: false }
      }
      const offered = offerable(run, runRelay.runLimits)
      const head = offered[0] as PendingDelivery
      const started = performance.now()
      const outcome = await this.attempts.call<RunOutcome>(
        relay,
        head,
        context =>
          runRelay.deliverRun(
            offered.map(d => d.message),
            { ...context, turn }
          ),
        error => ({ delivered: [], next: { status: 'retry', error } })
      )
      if (outcome === undefined) return 'stop'
      const status = outcome.delivered.length > 0 ? 'delivered' : (outcome.next?.status ?? 'retry')
      if (status !== 'held' && this.holds.settled(head.relay, head.laneId, this.clock.now(), status)) this.notify()
      const limit = runLimit(this.runRelay(head.relay) ?? runRelay)
      return await this.recorder.record(offered, outcome, performance.now() - started, limit)
    } finally {
      turn?.release()
    }
  }

  /**
   * Whether a lane that has had its turn gives its slot back: only when no slot is free and some
   * other lane is due and unclaimed, so a lone busy conversation keeps going without a round trip.
   * Released, it is due again from its last outcome, behind the lanes that waited longer.
   */
  private async turnIsOver(turn: { posts: number; since: number }): Promise<boolean> {
    const now = this.clock.now()
    const posts = this.options.laneTurnPosts ?? defaultLaneTurn.posts
    const ms = this.options.laneTurnMs ?? defaultLaneTurn.ms
    if (turn.posts < posts && now - turn.since < ms) return false
    if (this.room() > 0) return false
    const due = await this.store.nextDueAt(this.relayNames, now)
    return due !== undefined && due <= now
  }

  /** The relay refused for want of credentials: nothing is written, and its lanes wait (see RelayHolds). */
  private holdRelay(delivery: PendingDelivery, error: string, durationMs: number): void {
    this.holds.hold(delivery.relay, error, this.clock.now())
    this.options.onAttempt?.({ relay: delivery.relay, delivery, outcome: { status: 'held', error }, durationMs })
  }
}
