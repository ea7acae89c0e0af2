import type { FlowOutput, RelayMessage } from '../message.js'
import type { WebhookV1, WebhookV2 } from './schemas.js'

/** GPTBots sends seconds in its examples and milliseconds in other APIs: below 1e12 is seconds. */
export function toMillis(createTime: number): number {
  return createTime < 1e12 ? Math.round(createTime * 1000) : Math.round(createTime)
}

const orUndefined = (value: string | null | undefined): string | undefined => value ?? undefined

function compact<T extends object>(value: T): T {
  for (const key of Object.keys(value) as (keyof T)[]) if (value[key] === undefined) delete value[key]
  return value
}

export function fromV1(body: WebhookV1, source: string, receivedAt: number): RelayMessage {
  return compact({
    source,
    messageId: body.message_id,
    conversationId: body.conversation_id,
    type: body.message_type,
    text: orUndefined(body.text),
    flowOutput: (body.flow_output ?? []).map(entry =>
      compact<FlowOutput>({
        content: orUndefined(entry.content),
        branch: orUndefined(entry.branch),
        componentName: orUndefined(entry.from_component_name),
        audio: []
      })
    ),
    createdAt: toMillis(body.create_time),
    receivedAt,
    format: 'v1' as const
  })
}

/** V2 has no message type: it carries the bot's (or a human agent's) replies, so it is an ANSWER. */
export function fromV2(body: WebhookV2, source: string, receivedAt: number): RelayMessage {
  const tokens = body.usage?.tokens
  const usage =
    body.usage &&
    compact({
      totalTokens: tokens?.total_tokens,
      promptTokens: tokens?.prompt_tokens,
      completionTokens: tokens?.completion_tokens,
      totalCredits: body.usage.credits?.total_credits
    })
  return compact({
    source,
    messageId: body.message_id,
    conversationId: body.conversation_id,
    type: 'ANSWER' as const,
    flowOutput: body.output.map(entry =>
      compact<FlowOutput>({
        content: orUndefined(entry.content?.text),
        branch: orUndefined(entry.from_component_branch),
        componentName: orUndefined(entry.from_component_name),
        audio: (entry.content?.audio ?? []).map(a => compact({ url: a.audio, transcript: orUndefined(a.transcript) }))
      })
    ),
    createdAt: body.create_time === undefined ? receivedAt : toMillis(body.create_time),
    receivedAt,
    format: 'v2' as const,
    usage: usage && Object.keys(usage).length > 0 ? usage : undefined
  })
}
