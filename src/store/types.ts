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
  /** Only deliveries of messages whose seq lies in this range (both ends included). */
  seqFrom?: number
  seqTo?: number
  /** Only deliveries with a larger id, for paging. */
  afterId?: number
  /** At most this many, oldest first (default 100). */
  limit?: number
}

/** One conversation as the admin API lists it: its messages and where they go. */
export interface ConversationSummary {
  source: string
  conversationId: string
  messages: number
  firstReceivedAt: number
  lastReceivedAt: number
  /** One entry per relay the conversation has a lane for, with counts of its deliveries by status. */
  destinations: { relay: string; pending: number; delivered: number; dead: number }[]
}

export interface ConversationFilter {
  source?: string
  /** At most this many, most recently active first (default 100). */
  limit?: number
  /**
   * Paging: only conversations after this one in the listing's order (last active, newest first;
   * then source and conversation id), i.e. the previous page's last entry. Conversations that were
   * last active at the same millisecond are neither skipped nor repeated.
   */
  after?: { lastReceivedAt: number; source: string; conversationId: string }
  /** Only conversations with a lane to this relay. */
  relay?: string
  /**
   * Only conversations with a delivery in this state (to `relay`, when given); `delivered`: a
   * lane (to `relay`) and nothing pending or dead.
   */
  status?: 'pending' | 'dead' | 'delivered'
  /** Only conversations whose id holds this text, ignoring ASCII case. */
  search?: string
}

/** A stored message with its place in the store. */
export interface StoredMessage {
  seq: number
  message: RelayMessage
}

/** Which dead letters an admin action applies to: one delivery, or every dead letter of a relay (optionally of one conversation). */
export interface DeadLetterSelector {
  deliveryId?: number
  relay?: string
  source?: string
  conversationId?: string
}

/** One try of a delivery, or an operator's replay of it, as the store recorded it. */
export interface DeliveryAttempt {
  deliveryId: number
  /** The delivery's attempt count after this try; 0 for a replay. */
  attempt: number
  /** `retry`: failed, to be tried again; `delivered`; `dead`: given up; `replayed`: made pending again by an operator. */
  outcome: 'retry' | 'delivered' | 'dead' | 'replayed'
  error?: string
  posted?: Posted
  /** When the outcome was recorded (ms). */
  at: number
}

/** What the outbox holds right now, for metrics. */
export interface BacklogStats {
  pendingByRelay: Record<string, number>
  deadByRelay: Record<string, number>
  /** receivedAt (ms) of the oldest pending delivery, or undefined when nothing is pending. */
  oldestPendingAt?: number
  /** receivedAt (ms) of each relay's oldest pending delivery; a relay with nothing pending is absent. */
  oldestPendingByRelay: Record<string, number>
}

export interface PruneResult {
  messages: number
  deliveries: number
}

export interface AcceptResult {
  /** True when this message (source, message id, type) was accepted before: nothing was added. */
  duplicate: boolean
  seq?: number
}

/** How a delivery ended for good: delivered (with what the relay posted), or dead with its last error. */
export type FinalOutcome = { status: 'delivered'; posted?: Posted } | { status: 'dead'; error: string }

/** What to write down for the first message of a run that did not go: a dead letter, or a retry at `dueAt`. */
export type RunNext =
  | { delivery: PendingDelivery; status: 'dead'; error: string }
  | { delivery: PendingDelivery; status: 'retry'; error: string; dueAt: number }

/**
 * The outcome of one relay call for a lane's run, recorded per message in one transaction: the
 * delivered prefix (each with what was posted for it, in lane order), then optionally the outcome
 * of the first message not delivered.
 */
export interface RunRecord {
  delivered: { delivery: PendingDelivery; posted?: Posted }[]
  next?: RunNext
}

export interface ClaimOptions {
  /** Who claims: one dispatcher process. */
  owner: string
  now: number
  limit: number
  leaseMs: number
  /** Only lanes of these relays: lanes of relays no longer configured are left waiting. */
  relays: string[]
  /** How many of a lane's pending deliveries to read with it, by relay; 1 for a relay not named. */
  runLimits?: Record<string, number>
}

/** A lane leased to its claimant, with its run: its oldest pending deliveries, oldest first. */
export interface LaneRun {
  lane: Lane
  run: PendingDelivery[]
}

export interface Claimed {
  runs: LaneRun[]
  /**
   * The earliest time a lane of these relays not claimed here becomes claimable (see nextDueAt),
   * or undefined when none is pending: how long the claimant may sleep.
   */
  nextDueAt?: number
}

/**
 * The outbox as the intake and the dispatcher use it: messages go in, lanes are claimed with
 * their runs, and each run's outcome moves its lane on.
 */
export interface Outbox {
  /**
   * Stores a message and one pending delivery per destination relay, atomically, before the
   * webhook is acknowledged. A message already stored (same source, message id and type) is a
   * duplicate and adds nothing.
   */
  accept(message: RelayMessage, destinations: string[]): Promise<AcceptResult>

  /**
   * Leases up to `limit` lanes whose next delivery is due and that nobody else holds, each with its
   * run (at most its relay's run limit), and says when the next lane falls due: one round trip.
   * A claimed lane whose run is empty (nothing pending any more) is released at once and left out.
   */
  claimRuns(options: ClaimOptions): Promise<Claimed>
  /**
   * The lane's head and the pending deliveries behind it, oldest first, at most `limit`: the run as
   * it is now, read again after a relay's turn came. Empty when the lane has none pending.
   */
  readRun(laneId: number, limit: number): Promise<PendingDelivery[]>
  /**
   * Records one relay call's outcome in one transaction (see RunRecord): each delivered message
   * gets its own status and `posted`, the lane moves past them, then `next` is recorded as a dead
   * letter or a retry (the lane due again at its `dueAt`). Only deliveries still pending count: two
   * replicas may both report one delivery (a lease ran out), and the lane must move on once. In the
   * same step, hands `owner` the lane's next run, at most `limit` (what readRun would answer now);
   * after a retry, or when none is left, it releases the lane instead and answers empty. A lane
   * `owner` no longer holds (another replica took it over) gets nothing and is left alone.
   */
  recordRun(record: RunRecord, owner: string, now: number, limit: number): Promise<PendingDelivery[]>

  /** Extends the lease of lanes this owner holds. */
  renewLeases(owner: string, laneIds: number[], until: number): Promise<void>
  /** Gives a lane back; it becomes claimable again at its due time. */
  releaseLane(laneId: number, owner: string): Promise<void>

  /** The earliest time a lane of these relays becomes claimable (its due time, or for a held lane the later of that and its lease's end), or undefined when none is pending. */
  nextDueAt(relays: string[], now: number): Promise<number | undefined>

  /**
   * Calls `wake` when another process sharing the store (a replica) may have stored new work, so
   * that its dispatcher need not wait for a poll. Returns a function that stops it. Optional: a
   * store owned by one process has nothing to learn.
   */
  watch?(wake: () => void): () => void
}

/** What the outbox holds and what happened to it, as the admin API, the dashboard and metrics read it. */
export interface DeliveryLog {
  /** The delivery log, oldest first: what happened to each message for each relay. */
  listDeliveries(filter: DeliveryFilter): Promise<DeliveryRecord[]>
  /** One delivery by its id, or undefined when none has it. */
  deliveryById(id: number): Promise<DeliveryRecord | undefined>
  /** Pending deliveries per relay, for start-up warnings and metrics. */
  pendingByRelay(): Promise<Record<string, number>>
  /** Conversations, most recently active first. */
  listConversations(filter: ConversationFilter): Promise<ConversationSummary[]>
  /** A conversation's messages in arrival order (seq), at most `limit` (default 100) after `afterSeq`. */
  listMessages(
    source: string,
    conversationId: string,
    options?: { afterSeq?: number; limit?: number }
  ): Promise<StoredMessage[]>
  /** Counts for metrics: pending and dead per relay, and the oldest pending message. */
  backlog(): Promise<BacklogStats>
  /** Every attempt and replay of these deliveries, oldest first. */
  listAttempts(deliveryIds: number[]): Promise<DeliveryAttempt[]>
}

/** What an operator changes in the outbox: dead letters revived or dropped, conversations replayed. */
export interface OutboxRepair {
  /**
   * Makes the selected dead letters pending again (attempts reset, last error kept), due now. Each
   * keeps its place: a lane delivers its pending deliveries in id order, so a replayed letter goes
   * out before later messages still pending in its lane. Returns how many were revived.
   */
  replayDead(selector: DeadLetterSelector, now: number): Promise<number>
  /** Deletes the selected dead letters for good. Returns how many. */
  dropDead(selector: DeadLetterSelector): Promise<number>
  /**
   * Queues every message of a conversation, in arrival order, as new pending deliveries to `relay`
   * (after anything already pending in that lane), e.g. for a newly added relay. Returns how many.
   */
  replayConversation(source: string, conversationId: string, relay: string, now: number): Promise<number>
}

/** The admin API's view of the store: the log to read and the repairs to make. */
export type AdminQueries = DeliveryLog & OutboxRepair

/** Keeping the store itself: pruning, readiness, shutdown. */
export interface Maintenance {
  /**
   * Deletes messages received before `before` whose every delivery is delivered (or that had no
   * destination), with their deliveries; their dedupe records go with them. Messages with a pending
   * or dead delivery are kept. Returns what was removed.
   */
  prune(before: number): Promise<PruneResult>
  /** Answers when the store can be read and written, for readiness checks. */
  ping(): Promise<void>
  close(): Promise<void>
}

/** What relays remember per conversation (a thread id, say), kept by relay, source and conversation. */
export interface ConversationStateStore {
  stateGet(relay: string, source: string, conversationId: string, key: string): Promise<unknown>
  stateSet(relay: string, source: string, conversationId: string, key: string, value: unknown): Promise<void>
  stateDelete(relay: string, source: string, conversationId: string, key: string): Promise<void>
}

/** What a backfill (reading GPTBots back) was asked to do, how far it got and what it found. */
export interface BackfillJob {
  id: string
  /** `start` (after a start), `schedule`, or `manual` (the admin API, the CLI, the dashboard). */
  trigger: 'start' | 'schedule' | 'manual'
  status: 'running' | 'done' | 'failed'
  /** The sources read, each with its window. */
  sources: string[]
  conversationId?: string
  /** The window of creation times read back (ms). */
  since: number
  until: number
  /** Who runs it (a replica). */
  owner: string
  figures: BackfillFigures
  /** Why a source could not be read, or the window was cut; one sentence each. */
  problems: string[]
  createdAt: number
  updatedAt: number
  finishedAt?: number
}

export interface BackfillFigures {
  /** Conversations whose messages were read. */
  conversations: number
  /** Messages GPTBots gave back within the window, of the types taken. */
  found: number
  /** New to the relay: stored and queued like a webhook's. */
  takenIn: number
  /** Stored before (by a webhook or an earlier backfill): not posted again. */
  alreadyThere: number
  /** Left out: not of a type taken (backfill.types), or a role that is no turn. */
  skipped: number
  /** Calls made to GPTBots' API. */
  calls: number
}

/** Where backfills are recorded, and the lease that makes an automatic one run on one replica. */
export interface BackfillRecords {
  /** Takes (or renews) the lease `name` for `owner` until `until`, when free, expired, or already its. */
  takeLease(name: string, owner: string, now: number, until: number): Promise<boolean>
  releaseLease(name: string, owner: string): Promise<void>
  /** When the newest stored message was received, or undefined when none is stored. */
  lastReceivedAt(): Promise<number | undefined>
  /** Stores a backfill's record, new or updated. */
  saveBackfill(job: BackfillJob): Promise<void>
  backfill(id: string): Promise<BackfillJob | undefined>
  /** The newest `limit` backfills, newest first. */
  listBackfills(limit: number): Promise<BackfillJob[]>
}

/**
 * Everything the relay keeps: SQLite and PostgreSQL implement every part. Each consumer takes the
 * smallest part it needs (the dispatcher the outbox and state, the admin API the log and repairs,
 * retention the maintenance), so a new store or a test double knows what each one uses.
 */
export interface Store
  extends Outbox,
    DeliveryLog,
    OutboxRepair,
    Maintenance,
    ConversationStateStore,
    BackfillRecords {}
