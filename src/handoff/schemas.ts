import Type, { type Static } from 'typebox'

/*
 * What GPTBots posts to the handoff endpoints (../../../shared/gptbots/README.md, "Human handoff").
 * Fields the relay does not use are let through: GPTBots may add some.
 */

const conversationId = Type.String({ minLength: 1, maxLength: 200 })
/** Milliseconds in GPTBots' examples; seconds are taken too (values below 1e12). */
const timestamp = Type.Number({ minimum: 0 })

export const EstablishBody = Type.Object({
  conversation_id: conversationId,
  timestamp,
  email: Type.Optional(Type.String()),
  bot_id: Type.Optional(Type.String()),
  body: Type.Array(
    Type.Object({
      message_type: Type.Enum(['QUESTION', 'ANSWER']),
      text: Type.String()
    }),
    { maxItems: 1000 }
  ),
  user_info: Type.Optional(
    Type.Object({
      phone: Type.Optional(Type.String()),
      email: Type.Optional(Type.String()),
      user_id: Type.Optional(Type.String()),
      anonymous_id: Type.Optional(Type.String())
    })
  )
})
export type EstablishBody = Static<typeof EstablishBody>

export const ChatBody = Type.Object({
  conversation_id: conversationId,
  timestamp,
  body: Type.String({ minLength: 1 })
})
export type ChatBody = Static<typeof ChatBody>

export const CloseBody = Type.Object({
  conversation_id: conversationId,
  timestamp,
  type: Type.Enum(['TIMEOUT', 'USER_CLOSED'])
})
export type CloseBody = Static<typeof CloseBody>

/** What GPTBots expects back from the handoff endpoints. */
export const HandoffAnswer = Type.Object({ code: Type.Integer(), message: Type.String() })
