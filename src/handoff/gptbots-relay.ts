import { delivered, failed, held, retry, type DeliveryOutcome, type Relay } from '../relays/types.js'
import type { RelayMessage } from '../message.js'
import type { ApiResult, HumanApi } from './gptbots-client.js'

const outcomeOf = (result: ApiResult, posted: Record<string, unknown>): DeliveryOutcome => {
  if (result.ok) return delivered(posted)
  switch (result.kind) {
    case 'credentials':
      return held(
        `${result.error}; check the default source's GPTBots API key (gptbots.apiKeyEnv or gptbots.apiKeyFile)`
      )
    case 'permanent':
      return failed(result.error)
    case 'transient':
      return retry(result.error, result.retryAfterMs)
  }
}

/**
 * The built-in relay `@gptbots`: delivers the humans' replies and the desk's close of each
 * handoff to GPTBots' human API, in order per handoff, with the dispatcher's retries, backoff and
 * dead letters like any relay.
 */
export function createGptbotsRelay(
  api: HumanApi,
  /** Stores the reply's receipt for its desk; awaited before the delivery counts, so the ✅ is as durable as the reply. */
  delivered?: (message: RelayMessage) => Promise<void>
): Relay {
  return {
    async deliver(message, context) {
      const handoff = message.handoff
      if (handoff?.kind === 'reply') {
        const result = await api.send(
          { conversationId: handoff.handoffId, timestamp: message.createdAt, text: message.text ?? '' },
          context.signal
        )
        // The reply reached the user: a receipt that cannot be stored must not send it again.
        if (result.ok && delivered)
          await delivered(message).catch((error: unknown) =>
            context.logger.error({ err: error, handoffId: handoff.handoffId }, 'could not store the receipt of a reply')
          )
        return outcomeOf(result, { handoffId: handoff.handoffId, kind: 'reply' })
      }
      if (handoff?.kind === 'holding') {
        const result = await api.send(
          { conversationId: handoff.handoffId, timestamp: message.createdAt, text: message.text ?? '' },
          context.signal
        )
        return outcomeOf(result, { handoffId: handoff.handoffId, kind: 'holding' })
      }
      if (handoff?.kind === 'agent-close') {
        const result = await api.close(
          { conversationId: handoff.handoffId, timestamp: message.createdAt },
          context.signal
        )
        return outcomeOf(result, { handoffId: handoff.handoffId, kind: 'close' })
      }
      // Nothing else is meant for GPTBots: a route that sends it here is a config mistake.
      return failed(
        `@gptbots takes only the replies and closes of handoffs, not ${handoff?.kind ?? 'webhook'} messages`
      )
    }
  }
}
