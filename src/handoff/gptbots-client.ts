import type { ApiFailure, GptbotsApi } from '../gptbots/api.js'

/** What a call to GPTBots' human API came to (see ApiFailure for the kinds of failure). */
export type ApiResult = { ok: true } | ApiFailure

export interface HumanApi {
  /** POST /v1/human/message/receive: the human's text for the user. */
  send(input: { conversationId: string; timestamp: number; text: string }, signal?: AbortSignal): Promise<ApiResult>
  /** POST /v1/human/close: the human ended the handoff. */
  close(input: { conversationId: string; timestamp: number }, signal?: AbortSignal): Promise<ApiResult>
}

/**
 * GPTBots' human API, through the shared client of the default source. Each call is tried once:
 * the dispatcher retries a reply, holds the relay on refused credentials, and dead-letters what
 * GPTBots refuses for good.
 */
export function humanApi(api: GptbotsApi): HumanApi {
  const outcome = async (answer: Promise<{ ok: true } | ApiFailure>): Promise<ApiResult> => {
    const result = await answer
    return result.ok ? { ok: true } : result
  }
  return {
    send: (input, signal) =>
      outcome(
        api.call(
          'POST',
          '/v1/human/message/receive',
          { body: { conversation_id: input.conversationId, timestamp: input.timestamp, body: input.text } },
          signal
        )
      ),
    close: (input, signal) =>
      outcome(
        api.call(
          'POST',
          '/v1/human/close',
          { body: { conversation_id: input.conversationId, timestamp: input.timestamp } },
          signal
        )
      )
  }
}
