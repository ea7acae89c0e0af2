import { TOKEN } from '../helpers/app.js'
import type { FastifyInstance } from 'fastify'

let clock = 1_767_000_000_000

/** GPTBots' establish call, as its docs show it, with a conversation so far. */
export function establishBody(handoffId: string, overrides: Record<string, unknown> = {}) {
  return {
    conversation_id: handoffId,
    timestamp: ++clock,
    email: 'owner@example.com',
    bot_id: 'bot-1',
    body: [
      { message_type: 'QUESTION', text: 'My order #42 never came' },
      { message_type: 'ANSWER', text: 'I am sorry. Let me find someone who can help.' },
      { message_type: 'QUESTION', text: 'Please hurry <!channel> @here' }
    ],
    user_info: { phone: '+1 555 0100', email: 'ann@example.com', user_id: 'u-ann', anonymous_id: '' },
    ...overrides
  }
}

export const chatBody = (handoffId: string, text: string) => ({
  conversation_id: handoffId,
  timestamp: ++clock,
  body: text
})
export const closeBody = (handoffId: string, type: 'TIMEOUT' | 'USER_CLOSED') => ({
  conversation_id: handoffId,
  timestamp: ++clock,
  type
})

/** Posts a handoff call as GPTBots does. */
export function call(app: FastifyInstance, path: string, body: unknown, headers: Record<string, string> = {}) {
  return app.inject({
    method: 'POST',
    url: `/handoff/${path}`,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}`, ...headers },
    payload: JSON.stringify(body)
  })
}
