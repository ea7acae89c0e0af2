import type { RelayMessage } from '../message.js'
import type { Posted } from '../relays/types.js'

/** One relay's ordered queue of one conversation: the unit that is delivered strictly in order. */
export interface Lane {
  id: number
  relay: string
  source: string
  conversationId: string
}

export type DeliveryStatus = 'pending' | 'delivered' | 'dead'

/** The next message of a lane, with how often it has failed so far. */
export interface PendingDelivery {
  id: number
  laneId: number
  relay: string
  /** Arrival order in the store. A lane delivers in delivery-id order, which is the order its messages were acknowledged (across replicas too). */
  seq: number
  attempts: number
  message: RelayMessage
}

/** A delivery as the delivery log shows it. */
export interface DeliveryRecord {
  id: number
  seq: number
  relay: string
  source: string
  conversationId: string
  messageId: string
  type: string
  status: DeliveryStatus
  attempts: number
  lastError?: string
  posted?: Posted
  createdAt: number
  updatedAt: number
}

export interface DeliveryFilter {
  status?: DeliveryStatus
  relay?: string
  source?: string
  conversationId?: string
  /** Only deliveries with a larger id, for paging. */
  afterId?: number
  /** At most this many, oldest first (default 100). */
  limit?: number
}

export interface AcceptResult {
  /** True when this message (source, message id, type) was accepted before: nothing was added. */
  duplicate: boolean
  seq?: number
}

export interface ClaimOptions {
  /** Who claims: one dispatcher process. */
  owner: string
  now: number
  limit: number
  leaseMs: number
  /** Only lanes of these relays: lanes of relays no longer configured are left waiting. */
  relays: string[]
}

/**
 * Everything the relay keeps. SQLite and PostgreSQL implement this one interface; the dispatcher
 * and the relays see nothing else of the store.
 */
export interface Store {
  /**
   * Stores a message and one pending delivery per destination relay, atomically, before the
   * webhook is acknowledged. A message already stored (same source, message id and type) is a
   * duplicate and adds nothing.
   */
  accept(message: RelayMessage, destinations: string[]): Promise<AcceptResult>

  /** Leases up to `limit` lanes whose next delivery is due and that nobody else holds. */
  claimLanes(options: ClaimOptions): Promise<Lane[]>
  /** The lane's oldest pending delivery, or undefined when it has none. */
  head(laneId: number): Promise<PendingDelivery | undefined>
  /** Extends the lease of lanes this owner holds. */
  renewLeases(owner: string, laneIds: number[], until: number): Promise<void>
  /** Gives a lane back; it becomes claimable again at its due time. */
  releaseLane(laneId: number, owner: string): Promise<void>

  recordDelivered(delivery: PendingDelivery, posted: Posted | undefined, now: number): Promise<void>
  /** A failed attempt to be tried again at `dueAt`; the lane waits for it. */
  recordRetry(delivery: PendingDelivery, error: string, dueAt: number, now: number): Promise<void>
  /** Gives up on a delivery, keeping its last error; the lane moves on. */
  recordDead(delivery: PendingDelivery, error: string, now: number): Promise<void>

  /** The earliest time a lane of these relays becomes claimable (its due time, or for a held lane the later of that and its lease's end), or undefined when none is pending. */
  nextDueAt(relays: string[], now: number): Promise<number | undefined>
  /** The delivery log, oldest first: what happened to each message for each relay. */
  listDeliveries(filter: DeliveryFilter): Promise<DeliveryRecord[]>
  /** Pending deliveries per relay, for start-up warnings and metrics. */
  pendingByRelay(): Promise<Record<string, number>>

  stateGet(relay: string, source: string, conversationId: string, key: string): Promise<unknown>
  stateSet(relay: string, source: string, conversationId: string, key: string, value: unknown): Promise<void>
  stateDelete(relay: string, source: string, conversationId: string, key: string): Promise<void>

  /** Answers when the store can be read and written, for readiness checks. */
  ping(): Promise<void>
  close(): Promise<void>
}
