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
  /** The GPTBots webhook format it arrived in. */
  format: Type.Enum(['v1', 'v2']),
  usage: Type.Optional(Usage)
})
export type RelayMessage = Static<typeof RelayMessage>
