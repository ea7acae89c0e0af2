import type { ApiFailure, GptbotsApi } from '../gptbots/api.js'

/** What a call to GPTBots' human API came to (see ApiFailure for the kinds of failure). */
export type ApiResult = { ok: true } | ApiFailure

export interface HumanApi {
  /** POST /v1/human/message/receive: the human's text for the user. */
  send(input: { conversationId: string; timestamp: number; text: string }, signal?: AbortSignal): Promise<ApiResult>
  /** POST /v1/human/close: the human ended the handoff. */
  close(input: { conversationId: string; timestamp: number }, signal?: AbortSignal): Promise<ApiResult>
  /**
   * A team's judgement of a bot answer (its message_id): POST /v1/message/feedback with POSITIVE,
   * NEGATIVE or CANCELED (takes a feedback back), or POST /v1/message/quality with a reviewer's
   * verdict. An answer that changed nothing (`affectCount` 0) is a permanent failure.
   */
  judge(input: Judgement, signal?: AbortSignal): Promise<ApiResult>
}

export type Judgement =
  | { answerId: string; call: 'feedback'; value: 'POSITIVE' | 'NEGATIVE' | 'CANCELED' }
  | { answerId: string; call: 'quality'; value: 'NONE' | 'UNRESOLVED' | 'PARTIALLY_RESOLVED' | 'FULLY_RESOLVED' }

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
    judge: async (input, signal) => {
      const path = `/v1/message/${input.call}`
      const answer = await api.call<{ affectCount?: unknown }>(
        'POST',
        path,
        { body: { answer_id: input.answerId, [input.call]: input.value } },
        signal
      )
      if (!answer.ok) return answer
      // GPTBots says how many answers took it; none means it does not know this answer.
      if (answer.body.affectCount === 0)
        return {
          ok: false,
          kind: 'permanent',
          error: `POST ${path}: GPTBots changed nothing (affectCount 0): it knows no answer ${input.answerId}`
        }
      return { ok: true }
    },
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
