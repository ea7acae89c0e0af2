import { defineRelay } from '../../src/relays/types.js'
import { diagnoseDiscord } from './doctor.js'
import { DiscordOptions, settingsFrom } from './options.js'
import { DiscordRelay } from './relay.js'

/**
 * The built-in Discord relay: each conversation in a thread of its own, a forum post of its own,
 * or straight into a channel; through the bot's REST API or a webhook. No gateway connection.
 */
export default defineRelay({
  type: 'discord',
  options: DiscordOptions,
  create(options, init) {
    return new DiscordRelay(settingsFrom(options, init.name), init)
  },
  diagnose: diagnoseDiscord
})
