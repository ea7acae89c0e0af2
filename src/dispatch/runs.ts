import type { RelayMessage } from '../message.js'
import type { RunLimits, RunRelay } from '../relays/types.js'
import type { PendingDelivery } from '../store/types.js'

/** What counts against a relay's `maxChars`: the text a relay could post for the message. */
export const messageChars = (message: RelayMessage): number =>
  (message.text?.length ?? 0) + message.flowOutput.reduce((sum, part) => sum + (part.content?.length ?? 0), 0)

/** How many of `run` (a lane's pending deliveries, oldest first) to offer at once: the head always, then what fits. */
export function offerable(run: PendingDelivery[], limits: RunLimits): PendingDelivery[] {
  const offered = run.slice(0, 1)
  let chars = offered[0] ? messageChars(offered[0].message) : 0
  for (const delivery of run.slice(1, Math.max(1, limits.maxMessages))) {
    chars += messageChars(delivery.message)
    if (limits.maxChars !== undefined && chars > limits.maxChars) break
    offered.push(delivery)
  }
  return offered
}

/** How many of a lane's pending deliveries to read at a time for this relay. */
export const runLimit = (relay: RunRelay | undefined): number =>
  relay ? Math.max(1, Math.floor(relay.runLimits.maxMessages)) : 1
