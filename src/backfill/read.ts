import { type ApiMessage, GptbotsApiError, type GptbotsApi } from '../gptbots/api.js'
import { fromApi, toMillis } from '../intake/normalise.js'
import type { MessageType, RelayMessage } from '../message.js'
import type { BackfillFigures } from '../store/types.js'

/** GPTBots' largest page. */
const PAGE = 100

export interface ReadBackOptions {
  api: GptbotsApi
  since: number
  until: number
  /** Only this conversation; otherwise every conversation active since `since`. */
  conversationId?: string
  types: readonly MessageType[]
  conversationType: string
  concurrency: number
  now(): number
  /** Takes one message in as a webhook's would be; says whether it was new. */
  takeIn(message: RelayMessage): Promise<'taken' | 'already' | 'refused'>
  figures: BackfillFigures
  /** Told after each conversation, to save progress. */
  progress?(): void | Promise<void>
  /** Told of a conversation that could not be read (after the client's retries). */
  problem(text: string): void
  signal?: AbortSignal
}

/** The conversations GPTBots lists as active from `since` until now (a conversation active since `until` holds older messages too). */
async function conversationsOf(o: ReadBackOptions): Promise<string[]> {
  const ids = new Set<string>()
  for (let page = 1; ; page++) {
    const answer = await o.api.conversationPage(
      { startTime: o.since, endTime: o.now(), page, pageSize: PAGE, conversationType: o.conversationType },
      o.signal,
      o.figures
    )
    for (const c of answer.list) if (typeof c.conversation_id === 'string') ids.add(c.conversation_id)
    const total = typeof answer.total === 'number' ? answer.total : undefined
    if (answer.list.length < PAGE || (total !== undefined && page * PAGE >= total)) return [...ids]
  }
}

async function messagesOf(o: ReadBackOptions, conversationId: string): Promise<ApiMessage[]> {
  const all: ApiMessage[] = []
  for (let page = 1; ; page++) {
    const answer = await o.api.messagePage({ conversationId, page, pageSize: PAGE }, o.signal, o.figures)
    all.push(...answer.conversation_content)
    const total = typeof answer.total === 'number' ? answer.total : undefined
    if (answer.conversation_content.length < PAGE || (total !== undefined && all.length >= total)) return all
  }
}

/**
 * Reads back one source's conversations and takes in, in creation order per conversation, each
 * message created in the window. A key GPTBots refuses, or a bot it deleted, ends the source at
 * once (thrown); a conversation that cannot be read is a problem, and the others go on.
 */
export async function readBack(o: ReadBackOptions): Promise<void> {
  const conversations = o.conversationId !== undefined ? [o.conversationId] : await conversationsOf(o)
  let next = 0
  let fatal: unknown
  const worker = async () => {
    while (fatal === undefined && next < conversations.length) {
      const conversationId = conversations[next++]!
      let messages: ApiMessage[]
      try {
        messages = await messagesOf(o, conversationId)
      } catch (error) {
        if (error instanceof GptbotsApiError && error.kind !== 'transient') fatal ??= error
        else o.problem(`conversation ${conversationId} could not be read: ${(error as Error).message}`)
        continue
      }
      o.figures.conversations++
      const wanted = messages
        .filter(m => typeof m?.message_id === 'string' && typeof m.create_time === 'number')
        .filter(m => {
          const at = toMillis(m.create_time)
          return at >= o.since && at <= o.until
        })
        // Creation order, as the conversation happened; GPTBots' pages need not be in it.
        .sort((a, b) => toMillis(a.create_time) - toMillis(b.create_time) || a.message_id.localeCompare(b.message_id))
      for (const raw of wanted) {
        const message = fromApi(raw, conversationId, o.api.source, o.now())
        if (message === undefined || !o.types.includes(message.type)) {
          o.figures.skipped++
          continue
        }
        o.figures.found++
        const outcome = await o.takeIn(message)
        if (outcome === 'taken') o.figures.takenIn++
        else if (outcome === 'already') o.figures.alreadyThere++
        else o.figures.skipped++
      }
      await o.progress?.()
    }
  }
  await Promise.all(Array.from({ length: Math.min(o.concurrency, conversations.length) }, worker))
  if (fatal !== undefined) throw fatal
}
