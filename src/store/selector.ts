import type { DeadLetterSelector } from './types.js'

/**
 * Refuses a selector that names neither a delivery nor a relay: an empty one would otherwise
 * match every dead letter of every relay, which no admin action means to do by accident.
 */
export function checkSelector(selector: DeadLetterSelector): void {
  if (selector.deliveryId === undefined && selector.relay === undefined) {
    throw new Error('a dead-letter selector needs a deliveryId or a relay')
  }
}

/** Bind values for a selector, null for what it leaves open. */
export function selectorParams(selector: DeadLetterSelector) {
  return {
    deliveryId: selector.deliveryId ?? null,
    relay: selector.relay ?? null,
    source: selector.source ?? null,
    conversationId: selector.conversationId ?? null
  }
}
