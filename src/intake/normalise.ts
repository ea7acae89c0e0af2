import type { ApiMessage } from '../gptbots/api.js'
import type { Audio, FlowOutput, MessageType, RelayMessage } from '../message.js'
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

/** The turn a GPTBots API role is: the user's question, or an answer (the bot's, or a human agent's). */
export function typeOfRole(role: string): MessageType | undefined {
  if (role === 'user') return 'QUESTION'
  if (role === 'assistant' || role === 'human' || role === 'agent') return 'ANSWER'
  return undefined
}

const audioOf = (item: unknown): Audio | undefined => {
  if (typeof item === 'string') return { url: item }
  if (item === null || typeof item !== 'object') return undefined
  const { url, audio, transcript } = item as { url?: unknown; audio?: unknown; transcript?: unknown }
  const link = typeof url === 'string' ? url : typeof audio === 'string' ? audio : undefined
  if (link === undefined) return undefined
  return compact({ url: link, transcript: typeof transcript === 'string' ? transcript : undefined })
}

/** Images and documents have no place in a webhook's message: they are shown as links in the text. */
const linksOf = (items: unknown): string[] =>
  (Array.isArray(items) ? items : []).flatMap(item => {
    const { url, name } = (item ?? {}) as { url?: unknown; name?: unknown }
    return typeof url === 'string' ? [typeof name === 'string' && name ? `[${name}](${url})` : url] : []
  })

/**
 * A message read back from GPTBots' API (GET /v2/messages) as the relay's one shape: each
 * `content[]` entry (a component's output) becomes a flow output. `create_time` there is in ms.
 * Undefined for a role that is no turn of the conversation.
 */
export function fromApi(
  message: ApiMessage,
  conversationId: string,
  source: string,
  receivedAt: number
): RelayMessage | undefined {
  const type = typeOfRole(message.role)
  if (type === undefined) return undefined
  const flowOutput = (message.content ?? []).map(entry => {
    const texts: string[] = []
    const audio: Audio[] = []
    for (const part of entry.branch_content ?? []) {
      const piece = part as Record<string, unknown>
      if (part.type === 'text' && typeof piece.text === 'string') texts.push(piece.text)
      else if (part.type === 'audio')
        for (const a of (piece.audio as unknown[]) ?? []) audioOf(a) && audio.push(audioOf(a)!)
      else if (part.type === 'image' || part.type === 'document') texts.push(...linksOf(piece[part.type]))
    }
    return compact<FlowOutput>({ content: texts.length > 0 ? texts.join('\n\n') : undefined, audio })
  })
  return {
    source,
    messageId: message.message_id,
    conversationId,
    type,
    flowOutput,
    createdAt: toMillis(message.create_time),
    receivedAt,
    format: 'api',
    recoveredAt: receivedAt
  }
}
