import Type, { type Static } from 'typebox'
import { RelayMessage } from '../message.js'

// Same limits as webhook ids: no NUL, because PostgreSQL text cannot hold it.
const Name = Type.String({ minLength: 1, maxLength: 256, pattern: '^[^\\u0000]*$' })
const Limit = Type.Integer({ minimum: 1, maximum: 1000, description: 'At most this many (default 100).' })
const Millis = Type.Integer({ minimum: 0, description: 'Unix milliseconds.' })

export const ConversationParams = Type.Object({
  source: Name,
  conversationId: Name
})
export type ConversationParams = Static<typeof ConversationParams>

export const DeliveryParams = Type.Object({
  id: Type.Integer({ minimum: 1, description: 'The delivery id, as GET /admin/dead-letters lists it.' })
})
export type DeliveryParams = Static<typeof DeliveryParams>

export const ConversationsQuery = Type.Object(
  {
    source: Type.Optional(Name),
    limit: Type.Optional(Limit),
    after: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 1024,
        description: "Paging: the previous page's `next`, as it was given."
      })
    ),
    relay: Type.Optional(
      Type.String({ minLength: 1, maxLength: 200, description: 'Only conversations with a lane to this relay.' })
    ),
    status: Type.Optional(
      Type.Union([Type.Literal('pending'), Type.Literal('dead'), Type.Literal('delivered')], {
        description:
          'Only conversations with a delivery in this state (to `relay`, when given); delivered: nothing pending or dead.'
      })
    ),
    search: Type.Optional(
      Type.String({ maxLength: 256, description: 'Only conversations whose id holds this text, ignoring ASCII case.' })
    )
  },
  { additionalProperties: false }
)
export type ConversationsQuery = Static<typeof ConversationsQuery>

export const MessagesQuery = Type.Object(
  {
    afterSeq: Type.Optional(
      Type.Integer({
        minimum: 0,
        description: "Paging: only messages after this seq; pass the previous page's `next`."
      })
    ),
    limit: Type.Optional(Limit)
  },
  { additionalProperties: false }
)
export type MessagesQuery = Static<typeof MessagesQuery>

export const DeadLettersQuery = Type.Object(
  {
    relay: Type.Optional(Name),
    source: Type.Optional(Name),
    conversationId: Type.Optional(Name),
    limit: Type.Optional(Limit),
    afterId: Type.Optional(
      Type.Integer({
        minimum: 0,
        description: "Paging: only dead letters with a larger id; pass the previous page's `next`."
      })
    )
  },
  { additionalProperties: false }
)
export type DeadLettersQuery = Static<typeof DeadLettersQuery>

export const ReplayDeadBody = Type.Object(
  {
    relay: Name,
    source: Type.Optional(Name),
    conversationId: Type.Optional(Name)
  },
  { additionalProperties: false }
)
export type ReplayDeadBody = Static<typeof ReplayDeadBody>

export const ReplayConversationBody = Type.Object(
  {
    relay: Name
  },
  { additionalProperties: false }
)
export type ReplayConversationBody = Static<typeof ReplayConversationBody>

export const Destination = Type.Object({
  relay: Type.String(),
  pending: Type.Integer(),
  delivered: Type.Integer(),
  dead: Type.Integer()
})

export const ConversationSummary = Type.Object({
  source: Type.String(),
  conversationId: Type.String(),
  messages: Type.Integer(),
  firstReceivedAt: Millis,
  lastReceivedAt: Millis,
  destinations: Type.Array(Destination)
})

export const ConversationsReply = Type.Object({
  conversations: Type.Array(ConversationSummary),
  next: Type.Optional(Type.String({ description: 'Pass as `after` for the next page; absent on the last page.' }))
})
export type ConversationsReply = Static<typeof ConversationsReply>

const Posted = Type.Record(Type.String(), Type.Unknown(), {
  description: 'What the relay posted: platform ids, a link.'
})

export const DeliveryRecord = Type.Object({
  id: Type.Integer(),
  seq: Type.Integer(),
  relay: Type.String(),
  source: Type.String(),
  conversationId: Type.String(),
  messageId: Type.String(),
  type: Type.String(),
  status: Type.Enum(['pending', 'delivered', 'dead']),
  attempts: Type.Integer(),
  lastError: Type.Optional(Type.String()),
  posted: Type.Optional(Posted),
  createdAt: Millis,
  updatedAt: Millis
})

/** A delivery listed under its message: what the message already says is left out. */
export const DeliveryAttempt = Type.Object({
  attempt: Type.Integer({ description: "The delivery's attempt count after this try; 0 for a replay." }),
  outcome: Type.Union(
    [Type.Literal('retry'), Type.Literal('delivered'), Type.Literal('dead'), Type.Literal('replayed')],
    { description: '`retry`: failed, tried again later; `delivered`; `dead`: given up; `replayed` by an operator.' }
  ),
  error: Type.Optional(Type.String()),
  posted: Type.Optional(Posted),
  at: Millis
})

export const MessageDelivery = Type.Evaluate(
  Type.Intersect([
    Type.Omit(DeliveryRecord, ['seq', 'source', 'conversationId', 'messageId', 'type']),
    Type.Object({ history: Type.Array(DeliveryAttempt, { description: 'Every attempt and replay, oldest first.' }) })
  ])
)

export const MessageEntry = Type.Object({
  seq: Type.Integer(),
  message: RelayMessage,
  deliveries: Type.Array(MessageDelivery)
})

export const MessagesReply = Type.Object({
  source: Type.String(),
  conversationId: Type.String(),
  messages: Type.Array(MessageEntry),
  next: Type.Optional(Type.Integer({ description: 'Pass as `afterSeq` for the next page; absent on the last page.' }))
})
export type MessagesReply = Static<typeof MessagesReply>

export const DeadLettersReply = Type.Object({
  deadLetters: Type.Array(DeliveryRecord),
  next: Type.Optional(Type.Integer({ description: 'Pass as `afterId` for the next page; absent on the last page.' }))
})
export type DeadLettersReply = Static<typeof DeadLettersReply>

export const ReplayedReply = Type.Object({
  replayed: Type.Integer({ description: 'Dead letters made pending again.' })
})
export const DroppedReply = Type.Object({ dropped: Type.Integer({ description: 'Dead letters deleted.' }) })
export const QueuedReply = Type.Object({ queued: Type.Integer({ description: 'Messages queued for the relay.' }) })
export const ReloadReply = Type.Object({ ok: Type.Boolean(), message: Type.String() }, { additionalProperties: true })

export const BacklogReply = Type.Object({
  relays: Type.Array(
    Type.Object({
      relay: Type.String(),
      configured: Type.Boolean({ description: 'False for a relay no longer in the config whose messages still wait.' }),
      pending: Type.Integer({ description: 'Deliveries waiting (due, or waiting for a retry).' }),
      dead: Type.Integer({ description: 'Dead letters kept until replayed or dropped.' }),
      oldestPendingAt: Type.Optional({
        ...Millis,
        description: 'When the relay received its oldest pending message; absent when none is pending.'
      }),
      lagMs: Type.Integer({ minimum: 0, description: 'How long that message has waited (0 when none is pending).' })
    })
  )
})
export type BacklogReply = Static<typeof BacklogReply>
