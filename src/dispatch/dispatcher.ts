import { randomUUID } from 'node:crypto'
import type { RelayMessage } from '../message.js'
import type {
  BatchLimits,
  BatchOutcome,
  DeliveryContext,
  DeliveryOutcome,
  Relay,
  RelayLogger
} from '../relays/types.js'
import type { BatchNext, ConversationStateStore, Lane, Outbox, PendingDelivery } from '../store/types.js'
import { backoffDelay } from './backoff.js'
import { systemClock, type Clock } from '../clock.js'
import { RelayHolds, type HeldRelay } from './holds.js'
import { conversationState } from './state.js'

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

/** What happened to one delivery attempt, for logs and metrics. */
export interface AttemptEvent {
  relay: string
  delivery: PendingDelivery
  outcome: DeliveryOutcome | { status: 'dead'; error: string }
  /** The whole call's duration: for a combined delivery, each of its messages reports the same. */
  durationMs: number
  /** Set when the message went in a combined delivery: how many were offered, and its place (0 for the head). */
  batch?: { size: number; index: number }
}

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

/** Raised inside a delivery when the dispatcher is shutting down: the outcome is unknown, so nothing is recorded. */
class ShuttingDown extends Error {}

/** What counts against a relay's `maxChars`: the text a relay could post for the message. */
export const messageChars = (message: RelayMessage): number =>
  (message.text?.length ?? 0) + message.flowOutput.reduce((sum, part) => sum + (part.content?.length ?? 0), 0)

/** How many of `run` (a lane's pending deliveries, oldest first) to offer at once: the head always, then what fits. */
export function offerable(run: PendingDelivery[], limits: BatchLimits): PendingDelivery[] {
  const offered = run.slice(0, 1)
  let chars = offered[0] ? messageChars(offered[0].message) : 0
  for (const delivery of run.slice(1, Math.max(1, limits.maxMessages))) {
    chars += messageChars(delivery.message)
    if (limits.maxChars !== undefined && chars > limits.maxChars) break
    offered.push(delivery)
  }
  return offered
}

/** The relay takes combined deliveries: how many to read from the lane at a time, else 1. */
const runLimit = (relay: Relay | undefined): number =>
  relay?.deliverBatch && relay.batchLimits ? Math.max(1, Math.floor(relay.batchLimits.maxMessages)) : 1

const describeError = (error: unknown): string => {
  if (!(error instanceof Error)) return String(error)
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : ''
  return `${error.message}${cause}`
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
  private readonly inFlight = new Set<AbortController>()
  /** Attempts running now, by the relay instance they run on, so that a replaced instance can be closed after them. */
  private readonly attempting = new Map<Promise<unknown>, Relay>()
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
  /**
   * Lanes whose attempt has run longer than stallMs. They no longer count against `concurrency`,
   * so hung conversations cannot make all the others wait out the delivery timeout; at most as
   * many again may stall (2 × concurrency lanes in all), so a platform that hangs on every
   * request does not pull ever more lanes in.
   */
  private readonly stalled = new Set<number>()

  constructor(private options: DispatcherOptions) {
    this.store = options.store
    this.relays = options.relays
    this.clock = options.clock ?? systemClock
    this.random = options.random ?? Math.random
    this.leaseMs = Dispatcher.leaseFor(options)
    this.owner = options.owner ?? randomUUID()
    this.holds = new RelayHolds(options.logger, options.holdRecheckMs ?? 60_000)
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
    const leftover = [...this.attempting].filter(([, relay]) => !current.has(relay)).map(([attempt]) => attempt)
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
      const claimed = await this.claim()
      if (claimed === 0 && this.active.size === 0) return
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
        { deliveries: this.inFlight.size },
        'shutdown: abandoning deliveries still in flight; they stay pending and run again at the next start'
      )
      for (const controller of this.inFlight) controller.abort(new ShuttingDown('relay is shutting down'))
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
        const claimed = await this.claim()
        if (claimed > 0 && this.room() > 0) continue
        if (this.room() > 0) {
          const now = this.clock.now()
          const due = await this.store.nextDueAt(this.relayNames, now)
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
    return Math.min(concurrency - (this.active.size - this.stalled.size), 2 * concurrency - this.active.size)
  }

  /** Claims as many due lanes as there is room for and starts each; returns how many. */
  private async claim(): Promise<number> {
    if (this.claiming || this.stopping) return 0
    const room = this.room()
    if (room <= 0) return 0
    this.claiming = true
    try {
      const lanes = await this.store.claimLanes({
        owner: this.owner,
        now: this.clock.now(),
        limit: room,
        leaseMs: this.leaseMs,
        relays: this.relayNames
      })
      for (const lane of lanes) {
        this.unreleased.delete(lane.id)
        // A lane already running here came back because its lease ran out under it (renewals
        // failed or came late), or because its run has just released it: one run at a time per
        // lane, so the new one starts after the old, which may still be delivering.
        const previous = this.active.get(lane.id)
        const run: Promise<void> = (previous ? previous.then(() => this.runLane(lane)) : this.runLane(lane)).then(
          leftOver => {
            // A lane released with its last outcome may have been claimed again, by a claim that
            // resolved before this: that run's entry is not ours to remove.
            if (this.active.get(lane.id) === run) {
              this.active.delete(lane.id)
              // The store was away: the loop gives the lane back once it answers, rather than letting it wait out its lease.
              if (leftOver) this.unreleased.add(lane.id)
            }
            this.notify()
          }
        )
        this.active.set(lane.id, run)
      }
      return lanes.length
    } finally {
      this.claiming = false
    }
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
  private async runLane(lane: Lane): Promise<boolean> {
    let released: boolean
    try {
      released = await this.deliverLane(lane)
    } finally {
      this.holds.abandoned(lane.relay, lane.id)
    }
    if (released) return false
    return this.store.releaseLane(lane.id, this.owner).then(
      () => false,
      () => true
    )
  }

  /** The lane's deliveries, in order; true when the store released the lane along with its last outcome. */
  private async deliverLane(lane: Lane): Promise<boolean> {
    try {
      // After the first step, the lane's next deliveries come back with the outcome of the one before.
      let run: PendingDelivery[] = []
      const turn = { posts: 0, since: this.clock.now() }
      while (!this.stopping) {
        if (run.length === 0) {
          const current = this.relays.get(lane.relay)
          const limit = runLimit(current)
          // A relay that waits for its turn has the run read after the wait (below): before it,
          // the head is all that is needed.
          run =
            limit > 1 && !current?.awaitTurn
              ? await this.store.pendingRun(lane.id, limit)
              : [await this.store.head(lane.id)].filter(d => d !== undefined)
          if (run.length === 0) return false
        }
        // Looked up per step, with no wait between here and the attempt, which useRelays then
        // counts: after a reload the lane goes on with the new instance, or stops when its relay was removed.
        const relay = this.relays.get(lane.relay)
        if (!relay || !this.holds.mayAttempt(lane.relay, lane.id, this.clock.now())) return false
        if (relay.awaitTurn && runLimit(relay) > 1) {
          // The relay's platform slot for this conversation first, then the run as it is now:
          // what arrived while the lane waited for its turn goes out in the same post (#15).
          if (!(await this.awaitTurn(relay, run[0] as PendingDelivery))) return false
          run = await this.store.pendingRun(lane.id, runLimit(relay))
          if (run.length === 0) return false
        }
        const combined = relay.deliverBatch && relay.batchLimits ? offerable(run, relay.batchLimits) : []
        const step =
          combined.length > 1
            ? await this.deliverCombined(relay, combined)
            : await this.deliverOne(relay, run[0]!, runLimit(relay) > 1)
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

  /**
   * Waits, within the delivery timeout, until the relay has a slot for the lane's next post
   * (`Relay.awaitTurn`); false when the dispatcher is stopping. A relay that fails to wait is
   * simply delivered to: its own pacing still applies.
   */
  private async awaitTurn(relay: Relay, delivery: PendingDelivery): Promise<boolean> {
    const controller = new AbortController()
    this.inFlight.add(controller)
    const timer = setTimeout(() => controller.abort(new Error('turn timed out')), this.options.deliveryTimeoutMs)
    const { message } = delivery
    try {
      await relay.awaitTurn?.(message, {
        state: conversationState(this.store, delivery.relay, message.source, message.conversationId),
        attempt: delivery.attempts + 1,
        signal: controller.signal,
        logger: this.options.logger
      })
    } catch {
      // Held channel, timeout or abort: the delivery itself says what happened.
    } finally {
      clearTimeout(timer)
      this.inFlight.delete(controller)
    }
    return !(controller.signal.reason instanceof ShuttingDown)
  }

  /** One message through `deliver`; a relay that takes combined deliveries has it recorded as one, to learn its next run. */
  private async deliverOne(
    relay: Relay,
    delivery: PendingDelivery,
    asRun: boolean
  ): Promise<{ next: PendingDelivery[]; released: boolean } | 'stop'> {
    const started = performance.now()
    const outcome = await this.attempt<DeliveryOutcome>(
      relay,
      delivery,
      context => relay.deliver(delivery.message, context),
      {
        timedOut: error => ({ status: 'retry', error }),
        threw: error => ({ status: 'retry', error })
      }
    )
    if (outcome === undefined) return 'stop'
    if (outcome.status === 'held') {
      this.holdRelay(delivery, outcome.error, performance.now() - started)
      return 'stop'
    }
    if (this.holds.settled(delivery.relay, delivery.laneId, this.clock.now(), outcome.status)) this.notify()
    if (!asRun) {
      const step = await this.record(delivery, outcome, performance.now() - started)
      return { next: step.next ? [step.next] : [], released: step.released }
    }
    const result: BatchOutcome =
      outcome.status === 'delivered' ? { delivered: [outcome.posted] } : { delivered: [], next: outcome }
    return this.recordCombined([delivery], result, performance.now() - started, relay)
  }

  /** The lane's head and the messages behind it, offered together through `deliverBatch`. */
  private async deliverCombined(
    relay: Relay,
    offered: PendingDelivery[]
  ): Promise<{ next: PendingDelivery[]; released: boolean } | 'stop'> {
    const head = offered[0]!
    const started = performance.now()
    const outcome = await this.attempt<BatchOutcome>(
      relay,
      head,
      context =>
        relay.deliverBatch!(
          offered.map(d => d.message),
          context
        ),
      {
        timedOut: error => ({ delivered: [], next: { status: 'retry', error } }),
        threw: error => ({ delivered: [], next: { status: 'retry', error } })
      }
    )
    if (outcome === undefined) return 'stop'
    const status = outcome.delivered.length > 0 ? 'delivered' : (outcome.next?.status ?? 'retry')
    if (status !== 'held' && this.holds.settled(head.relay, head.laneId, this.clock.now(), status)) this.notify()
    return this.recordCombined(offered, outcome, performance.now() - started, relay)
  }

  /**
   * Writes down a combined delivery, per message, in one store transaction: the delivered prefix,
   * then the first undelivered message's retry or dead letter (as `record` decides for one). A
   * `held` records the prefix and holds the relay.
   */
  private async recordCombined(
    offered: PendingDelivery[],
    reported: BatchOutcome,
    durationMs: number,
    relay: Relay
  ): Promise<{ next: PendingDelivery[]; released: boolean } | 'stop'> {
    const { logger } = this.options
    const now = this.clock.now()
    let delivered = Array.isArray(reported.delivered) ? reported.delivered : []
    if (delivered.length > offered.length) {
      logger.error(
        { relay: offered[0]!.relay, offered: offered.length, reported: delivered.length },
        'relay reported more messages delivered than it was offered; the extra are ignored'
      )
      delivered = delivered.slice(0, offered.length)
    }
    const first = offered[delivered.length]
    let nextOutcome = first ? reported.next : undefined
    // Nothing delivered and no reason given: counted as a failed try, or the lane would spin.
    if (first && delivered.length === 0 && !nextOutcome)
      nextOutcome = { status: 'retry', error: 'the relay delivered none of the messages offered and said not why' }
    const batch = (index: number) => (offered.length > 1 ? { size: offered.length, index } : undefined)
    // Held with nothing delivered: there is nothing to write (the store refuses an empty record),
    // and a store error here would release the lane unheld, to be claimed and posted again at once.
    if (first && delivered.length === 0 && nextOutcome?.status === 'held') {
      this.holdRelay(first, nextOutcome.error, durationMs)
      return 'stop'
    }

    let next: BatchNext | undefined
    let retryInMs: number | undefined
    if (first && nextOutcome && nextOutcome.status !== 'held') {
      const attempt = first.attempts + 1
      const error = this.options.scrub ? this.options.scrub(nextOutcome.error) : nextOutcome.error
      if (nextOutcome.status === 'failed' || attempt >= this.options.maxAttempts) {
        const reason = nextOutcome.status === 'failed' ? error : `gave up after ${attempt} attempts: ${error}`
        next = { delivery: first, status: 'dead', error: reason }
      } else {
        const backoff = backoffDelay(
          attempt,
          { baseMs: this.options.backoffBaseMs, maxMs: this.options.backoffMaxMs },
          this.random
        )
        retryInMs = nextOutcome.retryAfterMs === undefined ? backoff : Math.max(nextOutcome.retryAfterMs, 0)
        next = { delivery: first, status: 'retry', error, dueAt: now + retryInMs }
      }
    }
    const following = await this.store.finishBatch(
      { delivered: delivered.map((posted, i) => ({ delivery: offered[i]!, posted })), next },
      this.owner,
      now,
      runLimit(this.relays.get(offered[0]!.relay) ?? relay)
    )
    delivered.forEach((posted, index) => {
      const delivery = offered[index]!
      logger.info({ ...this.fields(delivery), posted, ...this.batchField(batch(index)) }, 'delivered')
      this.options.onAttempt?.({
        relay: delivery.relay,
        delivery,
        outcome: { status: 'delivered', posted },
        durationMs,
        batch: batch(index)
      })
    })
    if (!first || !nextOutcome) return { next: following, released: following.length === 0 && !first }
    const index = delivered.length
    if (nextOutcome.status === 'held') {
      this.holdRelay(first, nextOutcome.error, durationMs)
      return 'stop'
    }
    if (next?.status === 'dead') {
      logger.error({ ...this.fields(first), error: next.error, ...this.batchField(batch(index)) }, 'dead-lettered')
      this.options.onAttempt?.({
        relay: first.relay,
        delivery: first,
        outcome: { status: 'dead', error: next.error },
        durationMs,
        batch: batch(index)
      })
      return { next: following, released: following.length === 0 }
    }
    logger.warn(
      { ...this.fields(first), error: nextOutcome.error, retryInMs, ...this.batchField(batch(index)) },
      'delivery failed; will retry'
    )
    this.options.onAttempt?.({
      relay: first.relay,
      delivery: first,
      outcome: nextOutcome,
      durationMs,
      batch: batch(index)
    })
    return { next: [], released: false }
  }

  private fields(delivery: PendingDelivery) {
    return {
      relay: delivery.relay,
      conversationId: delivery.message.conversationId,
      messageId: delivery.message.messageId,
      attempt: delivery.attempts + 1
    }
  }

  private batchField(batch: { size: number; index: number } | undefined) {
    return batch ? { batch } : {}
  }

  /** One try of one relay call for a lane (its head's delivery), bounded in time; undefined when shutdown cut it short. */
  private async attempt<T>(
    relay: Relay,
    delivery: PendingDelivery,
    call: (context: DeliveryContext) => Promise<T>,
    failure: { timedOut(error: string): T; threw(error: string): T }
  ): Promise<T | undefined> {
    const controller = new AbortController()
    this.inFlight.add(controller)
    const { message } = delivery
    const logger =
      this.options.logger.child?.({
        relay: delivery.relay,
        conversationId: message.conversationId,
        messageId: message.messageId
      }) ?? this.options.logger
    let timer: NodeJS.Timeout | undefined
    const stallMs = this.options.stallMs ?? Math.min(5000, this.options.deliveryTimeoutMs / 2)
    const stall = setTimeout(() => {
      this.stalled.add(delivery.laneId)
      // Its slot is free for another conversation.
      this.notify()
    }, stallMs)
    const timeout = new Promise<T>(resolve => {
      timer = setTimeout(() => {
        // Settle before aborting, so that the race below sees the timeout rather than the abort.
        resolve(failure.timedOut(`delivery timed out after ${this.options.deliveryTimeoutMs} ms`))
        controller.abort(new Error(`delivery timed out after ${this.options.deliveryTimeoutMs} ms`))
      }, this.options.deliveryTimeoutMs)
    })
    // A relay that ignores its signal must not hold up shutdown.
    const abandoned = new Promise<undefined>(resolve =>
      controller.signal.addEventListener('abort', () => resolve(undefined), { once: true })
    )
    try {
      // async, so that a relay throwing at once is caught like one that rejects.
      const running = (async () =>
        call({
          state: conversationState(this.store, delivery.relay, message.source, message.conversationId),
          attempt: delivery.attempts + 1,
          signal: controller.signal,
          logger
        }))().catch((error: unknown): T => failure.threw(describeError(error)))
      this.attempting.set(running, relay)
      void running.finally(() => this.attempting.delete(running))
      const outcome = await Promise.race([running, timeout, abandoned])
      if (controller.signal.reason instanceof ShuttingDown) return undefined
      return outcome
    } finally {
      clearTimeout(timer)
      clearTimeout(stall)
      this.stalled.delete(delivery.laneId)
      this.inFlight.delete(controller)
    }
  }

  /** The relay refused for want of credentials: nothing is written, and its lanes wait (see RelayHolds). */
  private holdRelay(delivery: PendingDelivery, error: string, durationMs: number): void {
    this.holds.hold(delivery.relay, error, this.clock.now())
    this.options.onAttempt?.({ relay: delivery.relay, delivery, outcome: { status: 'held', error }, durationMs })
  }

  /**
   * Writes an outcome down. After a final one, `next` is the lane's next message to deliver now;
   * without one, the lane is done for now, and `released` tells whether the store gave it back already.
   */
  private async record(
    delivery: PendingDelivery,
    outcome: Exclude<DeliveryOutcome, { status: 'held' }>,
    durationMs: number
  ): Promise<{ next?: PendingDelivery; released: boolean }> {
    const now = this.clock.now()
    const { logger } = this.options
    const fields = {
      relay: delivery.relay,
      conversationId: delivery.message.conversationId,
      messageId: delivery.message.messageId,
      attempt: delivery.attempts + 1
    }
    if (outcome.status === 'delivered') {
      const next = await this.store.finishAndNext(
        delivery,
        { status: 'delivered', posted: outcome.posted },
        this.owner,
        now
      )
      logger.info({ ...fields, posted: outcome.posted }, 'delivered')
      this.options.onAttempt?.({ relay: delivery.relay, delivery, outcome, durationMs })
      return { next, released: next === undefined }
    }
    const exhausted = delivery.attempts + 1 >= this.options.maxAttempts
    const error = this.options.scrub ? this.options.scrub(outcome.error) : outcome.error
    if (outcome.status === 'failed' || exhausted) {
      const reason = outcome.status === 'failed' ? error : `gave up after ${delivery.attempts + 1} attempts: ${error}`
      const next = await this.store.finishAndNext(delivery, { status: 'dead', error: reason }, this.owner, now)
      logger.error({ ...fields, error: reason }, 'dead-lettered')
      this.options.onAttempt?.({
        relay: delivery.relay,
        delivery,
        outcome: { status: 'dead', error: reason },
        durationMs
      })
      return { next, released: next === undefined }
    }
    const backoff = backoffDelay(
      delivery.attempts + 1,
      { baseMs: this.options.backoffBaseMs, maxMs: this.options.backoffMaxMs },
      this.random
    )
    const delay = outcome.retryAfterMs === undefined ? backoff : Math.max(outcome.retryAfterMs, 0)
    await this.store.recordRetry(delivery, error, now + delay, now)
    logger.warn({ ...fields, error: outcome.error, retryInMs: delay }, 'delivery failed; will retry')
    this.options.onAttempt?.({ relay: delivery.relay, delivery, outcome, durationMs })
    return { released: false }
  }
}
