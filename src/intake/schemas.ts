import Type, { type Static } from 'typebox'

// No NUL: PostgreSQL text cannot hold it, and no GPTBots id contains one.
const Id = Type.String({ minLength: 1, maxLength: 256, pattern: '^[^\\u0000]*$' })

/** GPTBots V1 "webhook receives messages", as its page describes it. Unknown fields are allowed. */
export const WebhookV1 = Type.Object({
  message_id: Id,
  message_type: Type.Enum(['ANSWER', 'QUESTION']),
  text: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  flow_output: Type.Optional(
    Type.Union([
      Type.Array(
        Type.Object({
          content: Type.Optional(Type.Union([Type.String(), Type.Null()])),
          branch: Type.Optional(Type.Union([Type.String(), Type.Null()])),
          from_component_name: Type.Optional(Type.Union([Type.String(), Type.Null()]))
        })
      ),
      Type.Null()
    ])
  ),
  create_time: Type.Number({ minimum: 0 }),
  conversation_id: Id
})
export type WebhookV1 = Static<typeof WebhookV1>

const V2Audio = Type.Object({
  audio: Type.String(),
  transcript: Type.Optional(Type.Union([Type.String(), Type.Null()]))
})

/** GPTBots V2 "webhook mode": one `output[]` entry per flow component, no `message_type`. */
export const WebhookV2 = Type.Object({
  message_id: Id,
  conversation_id: Id,
  create_time: Type.Optional(Type.Number({ minimum: 0 })),
  output: Type.Array(
    Type.Object({
      from_component_branch: Type.Optional(Type.Union([Type.String(), Type.Null()])),
      from_component_name: Type.Optional(Type.Union([Type.String(), Type.Null()])),
      content: Type.Optional(
        Type.Object({
          text: Type.Optional(Type.Union([Type.String(), Type.Null()])),
          audio: Type.Optional(Type.Array(V2Audio))
        })
      )
    })
  ),
  usage: Type.Optional(
    Type.Object({
      tokens: Type.Optional(
        Type.Object({
          total_tokens: Type.Optional(Type.Number()),
          prompt_tokens: Type.Optional(Type.Number()),
          completion_tokens: Type.Optional(Type.Number())
        })
      ),
      credits: Type.Optional(
        Type.Object({
          total_credits: Type.Optional(Type.Number())
        })
      )
    })
  )
})
export type WebhookV2 = Static<typeof WebhookV2>

// The answer GPTBots expects, and the envelope of every error: shared with the admin API.
export { Envelope } from '../http/envelope.js'

const webhookBody = Type.Union([WebhookV1, WebhookV2], {
  description: 'A GPTBots webhook callback: V1 (message_type, flow_output) or V2 (output). Unknown fields are allowed.'
})
const security: Record<string, string[]>[] = [{ webhookBearer: [] }, { webhookBasic: [] }]
const webhookDoc = {
  body: webhookBody,
  tags: ['webhook'],
  security,
  summary: 'Accepts a GPTBots callback: stored before it is acknowledged'
}

/** How the OpenAPI document describes the webhook routes, whose body the intake checks itself. */
export const webhookDocs = {
  '/webhook': webhookDoc,
  '/webhook/:source': {
    ...webhookDoc,
    params: Type.Object({ source: Type.String({ description: 'A source from auth.sources.' }) })
  }
}
