import type { Clock } from '../clock.js'
import type { TSchema, Static } from 'typebox'
import type { DeskAuthor, RelayMessage } from '../message.js'

export type { Clock } from '../clock.js'

/** What a relay can log through; a pino logger fits. */
export interface RelayLogger {
  debug(obj: object | string, msg?: string): void
  info(obj: object | string, msg?: string): void
  warn(obj: object | string, msg?: string): void
  error(obj: object | string, msg?: string): void
}

/**
 * A small key-value place per relay and conversation, kept in the store, for what a relay created
 * on its platform (a thread's ts, a channel id) so that it survives restarts. Values are JSON.
 * Only one delivery of a conversation to a relay runs at a time, cluster-wide, so a relay may read,
 * create and write without racing itself.
 */
export interface ConversationState {
  get<T = unknown>(key: string): Promise<T | undefined>
  set(key: string, value: unknown): Promise<void>
  delete(key: string): Promise<void>
  /**
   * The relay's memory shared by all its conversations (and all replicas), such as how many
   * conversations each of its channels was given. Not guarded like a conversation's: writes from
   * two deliveries can race, so keep only what may be approximate there.
   */
  shared?: ConversationState
}

export interface DeliveryContext {
  /** This relay's memory for the message's conversation. */
  state: ConversationState
  /** 1 for the first try of this delivery, 2 for the first retry, and so on. */
  attempt: number
  /** Aborted when the delivery times out or the relay shuts down. */
  signal: AbortSignal
  logger: RelayLogger
}

/** What a relay posted, for the delivery log: platform ids, a link, anything small. */
export type Posted = Record<string, unknown>

export type DeliveryOutcome =
  | { status: 'delivered'; posted?: Posted }
  /** Worth trying again later; `retryAfterMs` when the platform said how long to wait. */
  | { status: 'retry'; error: string; retryAfterMs?: number }
  /** Trying again will not help this message (bad channel, content refused): it is dead-lettered. */
  | { status: 'failed'; error: string }
  /**
   * The platform refused the relay's own credentials (a bad or revoked token): no message can go
   * until an admin fixes them, and none is to blame. The dispatcher holds every delivery of this
   * relay: nothing is dead-lettered, the attempt is not counted, and the relay's lanes pause until
   * a config reload or a periodic re-check lets a delivery through. `error` says what to fix.
   */
  | { status: 'held'; error: string }

export const delivered = (posted?: Posted): DeliveryOutcome => ({ status: 'delivered', posted })
export const retry = (error: string, retryAfterMs?: number): DeliveryOutcome =>
  retryAfterMs === undefined ? { status: 'retry', error } : { status: 'retry', error, retryAfterMs }
export const failed = (error: string): DeliveryOutcome => ({ status: 'failed', error })
export const held = (error: string): DeliveryOutcome => ({ status: 'held', error })

/** A delivery that did not go: retry, failed or held. */
export type Undelivered = Exclude<DeliveryOutcome, { status: 'delivered' }>

/**
 * What a relay did with a run of consecutive messages of one lane (see RunRelay). `delivered` lists
 * what was posted for each of the first messages, in order: it is always a prefix, possibly empty.
 * `next` is the outcome of the first message not delivered (retry, failed or held), when the relay
 * tried it and it did not go; without it, the messages after the prefix stay pending and are
 * offered again at once.
 */
export interface RunOutcome {
  delivered: (Posted | undefined)[]
  next?: Undelivered
}

/** How many messages a relay takes in one `deliverRun` call. */
export interface RunLimits {
  /** At most this many messages per call (1 or more). */
  maxMessages: number
  /** At most this many characters of message text in all; the lane's head is always offered. */
  maxChars?: number
}

/**
 * A relay's place in its platform's pace, taken for a conversation's next post (RunRelay.takeTurn).
 * The dispatcher gives it back in `finally` after the one `deliverRun` call it is handed to, whether
 * a post used it or not.
 */
export interface RelayTurn {
  /** Gives the slot back; a post that used it has given it back already. Called exactly once. */
  release(): void
}

/** What a relay gets with a run: the delivery context, and the turn it took when it takes turns. */
export interface RunContext<T extends RelayTurn = RelayTurn> extends DeliveryContext {
  /** The turn `takeTurn` gave for this run, when it gave one. */
  turn?: T
}

/** What every relay may have besides its delivery: readiness, inbound routes, lag, close. */
interface RelayAbilities {
  /**
   * Optional, for the lag gauge per channel: for each platform channel (a label of the relay's
   * choosing, such as a channel id) with messages waiting, the receivedAt (ms) of the oldest message
   * the relay has been offered for it and not yet posted. Read at each /metrics scrape; a channel
   * with nothing waiting is left out.
   */
  channelLag?(): ReadonlyMap<string, number>
  /** Checked at start and by readiness probes: throw an Error that says what the admin must fix. */
  ready?(): Promise<void>
  close?(): Promise<void>
  /**
   * Optional: routes the platform calls back on (a desk relay's events and buttons), mounted at
   * `POST /relays/{name}/{path}`. See InboundRoute.
   */
  inbound?: InboundRoute[]
}

/**
 * The one way the dispatcher delivers: a lane's head and the consecutive pending messages behind
 * it (within `runLimits`), oldest first, offered in one call, so that a busy conversation can go
 * out in fewer posts. A run of one is the ordinary case. `context.attempt` is the head's. A thrown
 * error counts as a retryable failure of the head.
 */
export interface RunRelay<T extends RelayTurn = RelayTurn> extends RelayAbilities {
  readonly runLimits: RunLimits
  deliverRun(messages: RelayMessage[], context: RunContext<T>): Promise<RunOutcome>
  /**
   * Optional: resolves when the relay can post the conversation's next post at once (its channel's
   * pace allows it), with that slot, or undefined when the conversation takes no turns. The
   * dispatcher then reads the lane's run as it is now, so that messages that arrived while the
   * conversation waited join the post, and hands the turn to `deliverRun`. A rejection is ignored
   * (the delivery then paces itself).
   */
  takeTurn?(head: RelayMessage, context: DeliveryContext): Promise<T | undefined>
  deliver?: never
}

/**
 * A relay that posts one message at a time: the simplest to write. The dispatcher offers it runs
 * of one (see `oneAtATime` in src/relays/run-adapter.ts). A thrown error counts as a retryable failure.
 */
export interface SingleRelay extends RelayAbilities {
  deliver(message: RelayMessage, context: DeliveryContext): Promise<DeliveryOutcome>
  deliverRun?: never
  runLimits?: never
  takeTurn?: never
}

/** A running relay instance: one that posts runs, or one that posts one message at a time. */
export type Relay = RunRelay | SingleRelay

export interface RelayInit {
  /** The instance name from the config, such as `slack.support`. */
  name: string
  logger: RelayLogger
  /** The directory of the config file, for options that name files. */
  configDir: string
  /**
   * The relay's clock: read the time and wait (pacing, Retry-After) through it rather than
   * Date.now() and timers, so that tests can move time for the core and the relay together.
   */
  clock: Clock
  /**
   * Set when the config's `handoff.relays` names this relay: it then receives the messages of
   * handoff conversations (RelayMessage.handoff) and reports the humans' actions here.
   */
  desk?: HandoffDesk
}

/** What a relay plugin module exports (as named exports or as its default export). */
export interface RelayPlugin<S extends TSchema = TSchema> {
  /** The name used in config: `"type": "slack"`. */
  type: string
  /** A TypeBox schema of the options (the relay's config entry, without `type`). */
  options: S
  /**
   * Optional: what the schema cannot say about the options (one field or another), checked with
   * the schema before the relay is created. Each problem names its field first, as in
   * `channel is required (or "channels", for several)`; the loader adds the relay's path.
   */
  check?(options: Static<S>): string[]
  create(options: Static<S>, init: RelayInit): Relay | Promise<Relay>
  /** Optional: `gptbots-relay doctor`'s checks of the options against the real platform. */
  diagnose?(options: Static<S>, context: DoctorContext): Promise<DoctorCheck[]>
}

/** One line of `gptbots-relay doctor`: what was checked, and for a failure what to do about it. */
export interface DoctorCheck {
  ok: boolean
  what: string
  fix?: string
}

export interface DoctorContext {
  /** The relay's name in the config. */
  name: string
  /** With --post: also post a test message where the relay would. */
  post: boolean
  logger: RelayLogger
  /** What the relay's desk needs too, when it is in handoff.relays. */
  desk: boolean
}

/** Helps a plugin author keep the options type tied to the schema. */
export function defineRelay<S extends TSchema>(plugin: RelayPlugin<S>): RelayPlugin<S> {
  return plugin
}

/**
 * A request to one of a relay's own routes, as it arrived: the raw body bytes (a signature is
 * computed over them), the headers (lower-cased names) and the query.
 */
export interface InboundRequest {
  headers: Record<string, string | string[] | undefined>
  rawBody: Buffer
  query: Record<string, string | undefined>
}

/** The answer to an inbound request: an object body is sent as JSON, a string as text. */
export interface InboundAnswer {
  status: number
  headers?: Record<string, string>
  body?: unknown
}

/**
 * An HTTP route a relay receives on, for a platform calling back (Slack's Events API and
 * interactivity, Discord's interactions). The app mounts it at `POST /relays/{relay name}/{path}`,
 * hands it the raw body whatever the content type, and answers what it returns. The relay checks
 * the platform's signature itself. A thrown error is answered with a 500 envelope.
 */
export interface InboundRoute {
  /** One path segment or more, without a leading slash, such as `events`. */
  path: string
  /**
   * The largest body the route takes, in bytes, when smaller than server.bodyLimit. A larger one
   * is refused with a 413 before it is read, so a caller without the platform's signature cannot
   * make the relay take in more than the platform itself would send.
   */
  bodyLimit?: number
  handle(request: InboundRequest): Promise<InboundAnswer>
}

/** Which handoff, as the desk keeps it. */
export interface HandoffRef {
  source: string
  handoffId: string
}

export type HandoffStatus = 'open' | 'closed'

/** The desk's record of one handoff. */
export interface HandoffRecord extends HandoffRef {
  status: HandoffStatus
  openedAt: number
  /** Who claimed it, if anyone. */
  claimedBy?: DeskAuthor
  /** When a person's first reply was stored (the holding reply is then not sent). */
  answeredAt?: number
  closedAt?: number
  closedReason?: 'TIMEOUT' | 'USER_CLOSED' | 'AGENT'
}

/**
 * What became of a human's action: stored (it will go out), a repeat, an internal note (kept from
 * the user), refused because the handoff is closed, or unknown.
 */
export type DeskAnswer =
  | { status: 'stored' | 'duplicate' | 'note' }
  | { status: 'closed'; record: HandoffRecord }
  | { status: 'unknown' }

/**
 * The handoff desk, given to a relay that takes part in it (RelayInit.desk). Every call stores
 * what it is told durably before it resolves, so a relay may acknowledge its platform right after.
 */
export interface HandoffDesk {
  /**
   * A human's answer for the user. `replyId` is unique per reply on the relay's platform (Slack's
   * message ts): a repeat is recognised. `ref` is where the reply sits (channel, ts), handed back
   * in its `receipt` message so the relay can mark it delivered or failed. Goes to GPTBots in order
   * per handoff, with retries, dead letters and replay like any delivery. A reply that starts with
   * the note marker is not stored nor sent: the answer is `note`, and the relay marks it as one.
   */
  reply(
    input: HandoffRef & { replyId: string; text: string; author: DeskAuthor; ref: Record<string, unknown> }
  ): Promise<DeskAnswer>
  /** The marker that makes a reply an internal note (config handoff.noteMarker), or '' when notes are off: for the banner. */
  noteMarker(): string
  /** Claims the handoff for `author`; every desk relay gets a `claim` message. `stored` only for the first claim. */
  claim(input: HandoffRef & { author: DeskAuthor }): Promise<DeskAnswer>
  /** Ends the handoff from the desk: GPTBots is told (/v1/human/close) and every desk relay gets a `close` message. */
  close(input: HandoffRef & { author: DeskAuthor }): Promise<DeskAnswer>
  /** The handoff's record, or undefined when the desk never saw it. */
  record(ref: HandoffRef): Promise<HandoffRecord | undefined>
  /**
   * A relay's own index from a platform key (a Slack thread `C1:1700.1`) to a handoff, kept in the
   * store: a reply event names only its thread.
   */
  link(key: string, ref: HandoffRef): Promise<void>
  find(key: string): Promise<HandoffRef | undefined>
}
