import type { ConversationState } from '../../src/relays/types.js'

/** A ConversationState kept in a Map, for testing a relay without a store. */
export function memoryState(map = new Map<string, unknown>()): ConversationState & { map: Map<string, unknown> } {
  return {
    map,
    async get<T>(key: string) {
      return structuredClone(map.get(key)) as T | undefined
    },
    async set(key: string, value: unknown) {
      map.set(key, structuredClone(value))
    },
    async delete(key: string) {
      map.delete(key)
    }
  }
}
