import type { ConversationState } from '../relays/types.js'
import type { ConversationStateStore } from '../store/types.js'

/** A relay's memory for one conversation, kept in the store. */
export function conversationState(
  store: ConversationStateStore,
  relay: string,
  source: string,
  conversationId: string
): ConversationState {
  return {
    // '*' is no source name (sources are letters, digits, '.', '-' and '_'), so no conversation's state.
    ...(source === '*' ? {} : { shared: conversationState(store, relay, '*', '*') }),
    get: async <T>(key: string) => (await store.stateGet(relay, source, conversationId, key)) as T | undefined,
    set: (key, value) =>
      value === undefined
        ? store.stateDelete(relay, source, conversationId, key)
        : store.stateSet(relay, source, conversationId, key, value),
    delete: key => store.stateDelete(relay, source, conversationId, key)
  }
}
