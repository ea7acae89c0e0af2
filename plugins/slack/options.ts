import Type, { type Static } from 'typebox'
import { SlackHandoffOptions } from './inbound/options.js'

/** How one side of the conversation (the user's questions or the bot's answers) is shown. */
export const SpeakerOptions = Type.Object({
  name: Type.Optional(Type.String({ minLength: 1, maxLength: 80 })),
  iconEmoji: Type.Optional(
    Type.String({
      pattern: "^:[a-z0-9_+'-]+:$",
      patternErrorMessage: 'must be an emoji code between colons, such as :robot_face:',
      description: 'Such as :robot_face:'
    })
  ),
  iconUrl: Type.Optional(
    Type.String({
      pattern: '^https?://',
      patternErrorMessage: 'must be a URL starting with https:// (or http://)',
      description: 'Wins over iconEmoji'
    })
  )
})
export type SpeakerOptions = Static<typeof SpeakerOptions>

export const slackDefaults = {
  apiUrl: 'https://slack.com/api/',
  threadStart: 'title',
  threadTitle: 'GPTBots conversation {conversationId}',
  flowOutput: 'shown',
  customize: false,
  question: { name: 'User', iconEmoji: ':bust_in_silhouette:' },
  answer: { name: 'Bot', iconEmoji: ':robot_face:' },
  // Slack allows 12,000 characters of markdown blocks per message, but has rejected messages
  // below its documented limits (msg_blocks_too_long, slackapi/bolt-js#2509 and #2867): keep room.
  maxPartLength: 10_000,
  pace: { intervalMs: 1000, burst: 3 },
  timeoutMs: 15_000
} as const

const ChannelId = Type.String({
  pattern: '^[CGD][A-Z0-9]+$',
  patternErrorMessage:
    'must be a channel ID such as C0123ABCD, not a channel name such as "#general": in Slack, open the channel, click its name at the top, and copy the Channel ID at the bottom of the About tab',
  description: 'Channel ID such as C0123456 (not a #name)'
})

export const SlackOptions = Type.Object(
  {
    token: Type.String({
      pattern: '^xox[a-z]-',
      patternErrorMessage:
        "must be a Slack bot token starting with xoxb-: copy the Bot User OAuth Token from your app's OAuth & Permissions page at https://api.slack.com/apps",
      description: 'Bot token (xoxb-...) with chat:write'
    }),
    channel: Type.Optional(ChannelId),
    channels: Type.Optional(
      Type.Array(ChannelId, {
        minItems: 1,
        maxItems: 50,
        uniqueItems: true,
        description:
          'Several channel IDs: each new conversation goes to the least busy one and stays there (with or instead of channel)'
      })
    ),
    apiUrl: Type.Optional(
      Type.String({
        pattern: '^https?://',
        patternErrorMessage: 'must be a URL starting with https:// (or http://)',
        default: slackDefaults.apiUrl,
        description: 'Slack Web API base URL, for proxies, GovSlack (https://slack-gov.com/api/) and tests'
      })
    ),
    threadStart: Type.Optional(
      Type.Enum(['title', 'message'], {
        default: slackDefaults.threadStart,
        description: 'title: a parent message names the conversation; message: its first message is the parent'
      })
    ),
    threadTitle: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 500,
        default: slackDefaults.threadTitle,
        description: 'Text of the parent message with threadStart "title"; {conversationId} and {source} are filled in'
      })
    ),
    flowOutput: Type.Optional(
      Type.Enum(['shown', 'hidden', 'whenNoText'], {
        default: slackDefaults.flowOutput,
        description: "Relay a flow bot's component output always, never, or only when the message has no text"
      })
    ),
    customize: Type.Optional(
      Type.Boolean({
        default: slackDefaults.customize,
        description: 'Post each message under the speaker name and icon (needs chat:write.customize); else a prefix'
      })
    ),
    question: Type.Optional(SpeakerOptions),
    answer: Type.Optional(SpeakerOptions),
    maxPartLength: Type.Optional(
      Type.Integer({
        minimum: 1000,
        maximum: 12_000,
        default: slackDefaults.maxPartLength,
        description: 'Longer messages are split into parts of at most this many characters'
      })
    ),
    pace: Type.Optional(
      Type.Object(
        {
          intervalMs: Type.Optional(
            Type.Integer({ minimum: 0, maximum: 60_000, default: slackDefaults.pace.intervalMs })
          ),
          burst: Type.Optional(Type.Integer({ minimum: 1, maximum: 50, default: slackDefaults.pace.burst }))
        },
        { description: 'Posts per channel: one per intervalMs, with bursts of up to burst posts' }
      )
    ),
    timeoutMs: Type.Optional(
      Type.Integer({
        minimum: 1000,
        maximum: 120_000,
        default: slackDefaults.timeoutMs,
        description: 'How long one Slack API call may take before it counts as failed'
      })
    ),
    handoff: Type.Optional(SlackHandoffOptions)
    // The core passes the relay's config entry without `type`, nothing else: an unknown key is a typo.
  },
  { additionalProperties: false }
)
export type SlackOptions = Static<typeof SlackOptions>

export interface Speaker {
  name: string
  iconEmoji?: string
  iconUrl?: string
}

/** The options with every default filled in, so the relay never meets an undefined. */
export interface SlackSettings {
  token: string
  /** The first channel: the one error messages name when no other is known. */
  channel: string
  /** Every channel given, `channel` first. */
  channels: string[]
  apiUrl: string
  threadStart: 'title' | 'message'
  threadTitle: string
  flowOutput: 'shown' | 'hidden' | 'whenNoText'
  customize: boolean
  speakers: { QUESTION: Speaker; ANSWER: Speaker }
  maxPartLength: number
  pace: { intervalMs: number; burst: number }
  timeoutMs: number
}

export function slackSettings(options: SlackOptions): SlackSettings {
  const channels = [...new Set([...(options.channel ? [options.channel] : []), ...(options.channels ?? [])])]
  if (channels.length === 0) {
    throw new Error('set "channel" to a channel ID such as C0123456 (or "channels" to several)')
  }
  return {
    token: options.token,
    channel: channels[0] as string,
    channels,
    apiUrl: options.apiUrl ?? slackDefaults.apiUrl,
    threadStart: options.threadStart ?? slackDefaults.threadStart,
    threadTitle: options.threadTitle ?? slackDefaults.threadTitle,
    flowOutput: options.flowOutput ?? slackDefaults.flowOutput,
    customize: options.customize ?? slackDefaults.customize,
    speakers: {
      QUESTION: speaker(options.question, slackDefaults.question),
      ANSWER: speaker(options.answer, slackDefaults.answer)
    },
    maxPartLength: options.maxPartLength ?? slackDefaults.maxPartLength,
    pace: {
      intervalMs: options.pace?.intervalMs ?? slackDefaults.pace.intervalMs,
      burst: options.pace?.burst ?? slackDefaults.pace.burst
    },
    timeoutMs: options.timeoutMs ?? slackDefaults.timeoutMs
  }
}

// A configured icon replaces the default one entirely: an iconUrl alone must not keep the emoji.
function speaker(configured: SpeakerOptions | undefined, fallback: Speaker): Speaker {
  const icon =
    configured?.iconUrl || configured?.iconEmoji
      ? { iconUrl: configured.iconUrl, iconEmoji: configured.iconEmoji }
      : { iconEmoji: fallback.iconEmoji }
  return { name: configured?.name ?? fallback.name, ...icon }
}
