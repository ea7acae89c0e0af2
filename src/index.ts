// The public API: what a relay plugin, or a program embedding the relay, may import from 'gptbots-relay'.
export { defineRelay, delivered, retry, failed, held } from './relays/types.js'
export type {
  Relay,
  RelayPlugin,
  RelayInit,
  RelayLogger,
  DeliveryContext,
  DeliveryOutcome,
  ConversationState,
  Posted,
  RunRelay,
  SingleRelay,
  RunContext,
  RunOutcome,
  RunLimits,
  RelayTurn,
  Undelivered,
  Clock
} from './relays/types.js'
export { asRunRelay } from './relays/run-adapter.js'
export { systemClock } from './clock.js'
// Reads a platform's Retry-After header on the relay's clock.
export { parseRetryAfter } from './relays/retry-after.js'
// How the dispatcher counts a message against a relay's runLimits.maxChars.
export { messageChars } from './dispatch/runs.js'
export { RelayMessage, FlowOutput, Audio, MessageType, Usage } from './message.js'
export { buildApp, type BuildOptions } from './app.js'
export { loadConfigFile, resolveConfig, defaultConfig, type LoadedConfig } from './config/load.js'
export type {
  Store,
  Outbox,
  DeliveryLog,
  OutboxRepair,
  AdminQueries,
  Maintenance,
  ConversationStateStore
} from './store/types.js'
// The Markdown engine the built-in relays render with: parse once, write a flow, split it by the platform's limits.
export * as markdown from './markdown/index.js'
// Several channels per relay (#15): which channel a new conversation goes to, and the lag per channel.
export { ChannelChoice, type ChannelLoad } from './relays/channel-choice.js'
export { ChannelLag } from './relays/channel-lag.js'
