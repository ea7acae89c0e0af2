import Type, { type Static } from 'typebox'

/** A spoken turn: the user's question or the bot's (or a human agent's) answer. */
export const MessageType = Type.Enum(['ANSWER', 'QUESTION'])
export type MessageType = Static<typeof MessageType>

export const Audio = Type.Object({
  url: Type.String(),
  transcript: Type.Optional(Type.String())
})
export type Audio = Static<typeof Audio>

/** One piece of a flow bot's output (V1 `flow_output[]`, V2 `output[]`). */
export const FlowOutput = Type.Object({
  content: Type.Optional(Type.String()),
  branch: Type.Optional(Type.String()),
  componentName: Type.Optional(Type.String()),
  audio: Type.Array(Audio)
})
export type FlowOutput = Static<typeof FlowOutput>

export const Usage = Type.Object({
  totalTokens: Type.Optional(Type.Number()),
  promptTokens: Type.Optional(Type.Number()),
  completionTokens: Type.Optional(Type.Number()),
  totalCredits: Type.Optional(Type.Number())
})
export type Usage = Static<typeof Usage>

/** A person on a desk (Slack, Discord, a custom relay): the platform's user id and a display name. */
export const DeskAuthor = Type.Object({ id: Type.String(), name: Type.Optional(Type.String()) })
export type DeskAuthor = Static<typeof DeskAuthor>

/**
 * What a message of a handoff conversation is. GPTBots' three calls become `establish`, `chat`
 * and `close` (by TIMEOUT or USER_CLOSED), routed to the desk relays; a human's answer is a `reply`
 * and the desk's Close an `agent-close`, both routed to the built-in GPTBots relay; `claim` and
 * `receipt` (whether a reply reached the user) go back to the desk relays.
 */
export const HandoffEvent = Type.Union([
  Type.Object({
    kind: Type.Literal('establish'),
    handoffId: Type.String(),
    botId: Type.Optional(Type.String()),
    email: Type.Optional(Type.String()),
    userInfo: Type.Record(Type.String(), Type.String()),
    /** The conversation so far, in order. */
    history: Type.Array(Type.Object({ type: MessageType, text: Type.String() }))
  }),
  /** The user's message, in the RelayMessage's `text`. */
  Type.Object({ kind: Type.Literal('chat'), handoffId: Type.String() }),
  Type.Object({
    kind: Type.Literal('close'),
    handoffId: Type.String(),
    reason: Type.Enum(['TIMEOUT', 'USER_CLOSED', 'AGENT']),
    author: Type.Optional(DeskAuthor)
  }),
  /** A human's answer (in `text`), for GPTBots; `desk` is the relay it was typed in, `ref` where. */
  Type.Object({
    kind: Type.Literal('reply'),
    handoffId: Type.String(),
    desk: Type.String(),
    author: DeskAuthor,
    ref: Type.Record(Type.String(), Type.Unknown())
  }),
  /** A desk's Close button, for GPTBots. */
  Type.Object({ kind: Type.Literal('agent-close'), handoffId: Type.String(), desk: Type.String(), author: DeskAuthor }),
  Type.Object({ kind: Type.Literal('claim'), handoffId: Type.String(), author: DeskAuthor }),
  /** The configured holding reply (in `text`): for GPTBots, and shown on every desk. `afterMs` is how long no one had answered. */
  Type.Object({ kind: Type.Literal('holding'), handoffId: Type.String(), afterMs: Type.Number() }),
  /** Whether a reply reached GPTBots, for the desk it was typed in. */
  Type.Object({
    kind: Type.Literal('receipt'),
    handoffId: Type.String(),
    replyMessageId: Type.String(),
    status: Type.Enum(['delivered', 'dead']),
    error: Type.Optional(Type.String()),
    ref: Type.Record(Type.String(), Type.Unknown())
  })
])
export type HandoffEvent = Static<typeof HandoffEvent>

/**
 * The one shape every relay sees, whatever GPTBots format the message came in.
 * Times are Unix milliseconds.
 */
export const RelayMessage = Type.Object({
  /** The webhook source it came through: `default` for `/webhook`, else the `:source` segment. */
  source: Type.String(),
  messageId: Type.String(),
  conversationId: Type.String(),
  type: MessageType,
  text: Type.Optional(Type.String()),
  flowOutput: Type.Array(FlowOutput),
  /** When GPTBots created the message. */
  createdAt: Type.Number(),
  /** When this relay accepted it. */
  receivedAt: Type.Number(),
  /**
   * The GPTBots webhook format it arrived in; `handoff` for a human-handoff event (see `handoff`);
   * `api` for a message read back from GPTBots' API that no webhook brought (see `recoveredAt`).
   */
  format: Type.Enum(['v1', 'v2', 'handoff', 'api']),
  /**
   * Set when the relay never received this message by webhook and recovered it from GPTBots'
   * API (a backfill): when it was taken in. It arrives late; `createdAt` says when it was sent.
   */
  recoveredAt: Type.Optional(Type.Number()),
  usage: Type.Optional(Usage),
  /** Set on the messages of a handoff conversation only (docs/handoff.md). */
  handoff: Type.Optional(HandoffEvent)
})
export type RelayMessage = Static<typeof RelayMessage>
