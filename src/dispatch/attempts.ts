import type { DeliveryContext, Relay, RelayLogger, RelayTurn, RunRelay } from '../relays/types.js'
import type { ConversationStateStore, PendingDelivery } from '../store/types.js'
import { conversationState } from './state.js'

/** Raised inside a delivery when the dispatcher is shutting down: the outcome is unknown, so nothing is recorded. */
export class ShuttingDown extends Error {}

export interface AttemptTiming {
  deliveryTimeoutMs: number
  /** See DispatcherOptions.stallMs. */
  stallMs?: number
}

const describeError = (error: unknown): string => {
  if (!(error instanceof Error)) return String(error)
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : ''
  return `${error.message}${cause}`
}

/**
 * The relay calls running now, each bounded in time: what shutdown aborts, what a reload waits
 * for before closing a replaced relay, and which lanes have stalled (run longer than stallMs).
 */
export class Attempts {
  /** Lanes whose attempt has run longer than stallMs; see Dispatcher.room. */
  readonly stalled = new Set<number>()
  readonly #inFlight = new Set<AbortController>()
  /** Attempts running now, by the relay instance they run on, so that a replaced instance can be closed after them. */
  readonly #running = new Map<Promise<unknown>, Relay>()

  constructor(
    private readonly store: ConversationStateStore,
    private readonly logger: RelayLogger & { child?(bindings: object): RelayLogger },
    private readonly timing: () => AttemptTiming,
    /** A lane stalled: its slot is free for another. */
    private readonly onStall: () => void
  ) {}

  /** How many calls (turns included) are in flight. */
  get size(): number {
    return this.#inFlight.size
  }

  /** Shutdown's deadline passed: every call in flight is cut short, unrecorded. */
  abandonAll(): void {
    for (const controller of this.#inFlight) controller.abort(new ShuttingDown('relay is shutting down'))
  }

  /** The attempts still running on a relay instance not among `current`. */
  runningOutside(current: ReadonlySet<Relay>): Promise<unknown>[] {
    return [...this.#running].filter(([, relay]) => !current.has(relay)).map(([attempt]) => attempt)
  }

  private context(delivery: PendingDelivery, signal: AbortSignal, logger: RelayLogger): DeliveryContext {
    const { message } = delivery
    return {
      state: conversationState(this.store, delivery.relay, message.source, message.conversationId),
      attempt: delivery.attempts + 1,
      signal,
      logger
    }
  }

  /**
   * Waits, within the delivery timeout, for the relay's turn for the lane's next post
   * (`RunRelay.takeTurn`); 'stop' when the dispatcher is stopping. A relay that fails to give a
   * turn is simply delivered to: its own pacing still applies.
   */
  async takeTurn(relay: RunRelay, delivery: PendingDelivery): Promise<RelayTurn | undefined | 'stop'> {
    const controller = new AbortController()
    this.#inFlight.add(controller)
    const timer = setTimeout(() => controller.abort(new Error('turn timed out')), this.timing().deliveryTimeoutMs)
    let turn: RelayTurn | undefined
    try {
      turn = await relay.takeTurn?.(delivery.message, this.context(delivery, controller.signal, this.logger))
    } catch {
      // Held channel, timeout or abort: the delivery itself says what happened.
    } finally {
      clearTimeout(timer)
      this.#inFlight.delete(controller)
    }
    if (!(controller.signal.reason instanceof ShuttingDown)) return turn
    turn?.release()
    return 'stop'
  }

  /** One relay call for a lane (its head's delivery), bounded in time; undefined when shutdown cut it short. */
  async call<T>(
    relay: Relay,
    delivery: PendingDelivery,
    call: (context: DeliveryContext) => Promise<T>,
    failure: (error: string) => T
  ): Promise<T | undefined> {
    const { deliveryTimeoutMs, stallMs = Math.min(5000, deliveryTimeoutMs / 2) } = this.timing()
    const controller = new AbortController()
    this.#inFlight.add(controller)
    const { message } = delivery
    const logger =
      this.logger.child?.({
        relay: delivery.relay,
        conversationId: message.conversationId,
        messageId: message.messageId
      }) ?? this.logger
    let timer: NodeJS.Timeout | undefined
    const stall = setTimeout(() => {
      this.stalled.add(delivery.laneId)
      this.onStall()
    }, stallMs)
    const timeout = new Promise<T>(resolve => {
      timer = setTimeout(() => {
        // Settle before aborting, so that the race below sees the timeout rather than the abort.
        resolve(failure(`delivery timed out after ${deliveryTimeoutMs} ms`))
        controller.abort(new Error(`delivery timed out after ${deliveryTimeoutMs} ms`))
      }, deliveryTimeoutMs)
    })
    // A relay that ignores its signal must not hold up shutdown.
    const abandoned = new Promise<undefined>(resolve =>
      controller.signal.addEventListener('abort', () => resolve(undefined), { once: true })
    )
    try {
      // async, so that a relay throwing at once is caught like one that rejects.
      const running = (async () => call(this.context(delivery, controller.signal, logger)))().catch(
        (error: unknown): T => failure(describeError(error))
      )
      this.#running.set(running, relay)
      void running.finally(() => this.#running.delete(running))
      const outcome = await Promise.race([running, timeout, abandoned])
      if (controller.signal.reason instanceof ShuttingDown) return undefined
      return outcome
    } finally {
      clearTimeout(timer)
      clearTimeout(stall)
      this.stalled.delete(delivery.laneId)
      this.#inFlight.delete(controller)
    }
  }
}
