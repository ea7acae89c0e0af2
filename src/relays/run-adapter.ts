import type { RelayMessage } from '../message.js'
import type { DeliveryContext, DeliveryOutcome, Relay, RunOutcome, RunRelay } from './types.js'

/** A run's outcome as one message's: the head's. */
export function headOutcome(outcome: RunOutcome): DeliveryOutcome {
  if (outcome.delivered.length > 0) return { status: 'delivered', posted: outcome.delivered[0] }
  return outcome.next ?? { status: 'retry', error: 'the relay delivered none of the messages offered and said not why' }
}

/** One message's outcome as a run's. */
export function runOutcome(outcome: DeliveryOutcome): RunOutcome {
  return outcome.status === 'delivered' ? { delivered: [outcome.posted] } : { delivered: [], next: outcome }
}

const adapted = new WeakMap<Relay, RunRelay>()

/**
 * The relay as the dispatcher delivers through it: a relay that posts runs as it is; one that posts
 * one message at a time offered runs of one, its outcome being the run's. The same adapter for the
 * same relay, so that it is made once per instance.
 */
export function asRunRelay(relay: Relay): RunRelay {
  if (relay.deliverRun) return relay as RunRelay
  let run = adapted.get(relay)
  if (!run) {
    const single = relay
    run = {
      runLimits: { maxMessages: 1 },
      deliverRun: async (messages, context) => runOutcome(await single.deliver(messages[0] as RelayMessage, context))
    }
    adapted.set(relay, run)
  }
  return run
}

/** Offers one message to any relay as a run of one, without a turn, and answers with its outcome: for tests and tools. */
export async function deliverOne(
  relay: Relay,
  message: RelayMessage,
  context: DeliveryContext
): Promise<DeliveryOutcome> {
  return headOutcome(await asRunRelay(relay).deliverRun([message], context))
}

/**
 * As deliverOne, in the relay's turn when it takes turns (as the dispatcher delivers): the turn is
 * taken first and given back when the call is over. A relay that fails to give one is delivered to.
 */
export async function deliverInTurn(
  relay: Relay,
  message: RelayMessage,
  context: DeliveryContext
): Promise<DeliveryOutcome> {
  const run = asRunRelay(relay)
  const turn = await run.takeTurn?.(message, context).catch(() => undefined)
  try {
    return headOutcome(await run.deliverRun([message], { ...context, turn }))
  } finally {
    turn?.release()
  }
}
