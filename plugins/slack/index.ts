import { defineRelay } from '../../src/relays/types.js'
import { diagnoseSlack } from './doctor.js'
import { SlackOptions } from './options.js'
import { createSlackRelay } from './relay.js'

/**
 * The built-in Slack relay: posts each conversation into a thread of one channel, Markdown
 * rendered by Slack, long answers split, paced per channel, failures told apart.
 */
export default defineRelay({
  type: 'slack',
  options: SlackOptions,
  check: options =>
    options.channel || options.channels?.length ? [] : ['channel is required (or "channels", for several)'],
  create: (options, init) => createSlackRelay(options, init),
  diagnose: diagnoseSlack
})
