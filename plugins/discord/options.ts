import Type, { type Static } from 'typebox'
import Value from 'typebox/value'

export const Mode = Type.Enum(['thread', 'forum', 'channel'])
export type Mode = Static<typeof Mode>

const Snowflake = (what: string, description: string) =>
  Type.String({
    pattern: '^[0-9]{15,21}$',
    patternErrorMessage: `must be ${what}, a long number such as 1234567890123456789`,
    description
  })

const ChannelId = (description: string) =>
  Type.String({
    pattern: '^[0-9]{15,21}$',
    patternErrorMessage:
      'must be a channel id, a long number such as 1234567890123456789, not a channel name such as "#general": in Discord, turn on Developer Mode (User Settings, Advanced), then right-click the channel and choose Copy Channel ID',
    description
  })

/** The human-handoff desk on Discord (docs/discord.md): buttons and modals through the HTTP interactions endpoint. */
export const DeskOptions = Type.Object(
  {
    applicationId: Snowflake(
      "the application's id (Developer Portal, General Information, Application ID)",
      "The application's id."
    ),
    publicKey: Type.String({
      pattern: '^[0-9a-fA-F]{64}$',
      patternErrorMessage:
        "must be the application's public key, 64 hexadecimal characters (Developer Portal, General Information, Public Key)",
      description: "The application's public key, which verifies the interactions Discord signs. Not a secret."
    }),
    onCallRole: Type.Optional(
      Snowflake(
        'a role id (with Developer Mode on, right-click the role and choose Copy Role ID)',
        "Role mentioned in a handoff's opening post: the only mention the desk ever lets ping."
      )
    )
  },
  { additionalProperties: false }
)
export type DeskOptions = Static<typeof DeskOptions>

/** The relay's config entry (without `type`). Defaults are applied by the core and again by `settingsFrom`. */
export const DiscordOptions = Type.Object(
  {
    token: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          'Bot token. Needed for modes thread and forum (unless forum posts go through webhookUrl) and for readiness checks of the channel.'
      })
    ),
    channel: Type.Optional(
      ChannelId(
        "Channel id: a text or announcement channel (modes thread, channel) or a forum channel (mode forum). With webhookUrl it defaults to the webhook's channel."
      )
    ),
    channels: Type.Optional(
      Type.Array(ChannelId('A channel id, as for channel.'), {
        minItems: 1,
        description:
          "Several channel ids (bot modes only, not with webhookUrl): each new conversation goes to the least busy one and stays there (with or instead of channel; the first one is the desk's)."
      })
    ),
    mode: Type.Optional(
      Type.Enum(['thread', 'forum', 'channel'], {
        default: 'thread',
        description:
          'thread: a thread per conversation; forum: a forum post per conversation; channel: every message straight into the channel.'
      })
    ),
    apiUrl: Type.Optional(
      Type.String({
        minLength: 1,
        default: 'https://discord.com/api',
        description: 'Discord API base (without /v10), for proxies and tests.'
      })
    ),
    webhookUrl: Type.Optional(
      Type.String({
        pattern: '/webhooks/[0-9]+/[^/?#]+',
        patternErrorMessage:
          "must be a Discord webhook URL such as https://discord.com/api/webhooks/<id>/<token>: copy it from the channel's Integrations, Webhooks settings",
        description:
          'Post through this webhook instead of the bot: per-message names and avatars. Requests still go to apiUrl.'
      })
    ),
    threadName: Type.Optional(
      Type.String({
        minLength: 1,
        default: 'GPTBots {conversationId}',
        description:
          "Name of a conversation's thread or forum post; {conversationId}, {source} and {preview} (the first words of the first message) are filled in. Cut to 100 characters."
      })
    ),
    autoArchiveMinutes: Type.Optional(
      Type.Union([Type.Literal(60), Type.Literal(1440), Type.Literal(4320), Type.Literal(10080)], {
        description:
          "Inactivity after which Discord archives a conversation's thread. Archived threads reopen when the next message arrives."
      })
    ),
    botName: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 80,
        default: 'GPTBots',
        description: 'Shown for answers: as a label, or as the webhook username.'
      })
    ),
    userName: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 80,
        default: 'User',
        description: 'Shown for questions: as a label, or as the webhook username.'
      })
    ),
    botAvatarUrl: Type.Optional(Type.String({ description: 'Webhook avatar for answers.' })),
    userAvatarUrl: Type.Optional(Type.String({ description: 'Webhook avatar for questions.' })),
    botColor: Type.Optional(
      Type.Integer({ minimum: 0, maximum: 0xffffff, default: 0x5865f2, description: 'Embed colour of answers.' })
    ),
    userColor: Type.Optional(
      Type.Integer({ minimum: 0, maximum: 0xffffff, default: 0x99aab5, description: 'Embed colour of questions.' })
    ),
    linkPreviews: Type.Optional(
      Type.Boolean({
        description:
          'False: posts carry the SUPPRESS_EMBEDS flag, so links in relayed answers show no preview. Default true.'
      })
    ),
    maxRateLimitWaitMs: Type.Optional(
      Type.Integer({
        minimum: 0,
        default: 5000,
        description:
          'Longest rate-limit wait inside one delivery; a longer one ends the attempt as a retry after that time.'
      })
    ),
    requestTimeoutMs: Type.Optional(
      Type.Integer({ minimum: 100, default: 15000, description: 'Timeout of one request to Discord.' })
    ),
    desk: Type.Optional(DeskOptions)
  },
  { additionalProperties: false }
)
export type DiscordOptions = Static<typeof DiscordOptions>

export interface Webhook {
  id: string
  token: string
}

/** Everything the relay needs, defaults filled in and cross-field rules checked. */
export interface Settings {
  token?: string
  /** The first channel: the desk's, and the one errors name before a conversation has its own. */
  channel?: string
  /** Every channel given, `channel` first; empty with a webhook that names none. */
  channels: string[]
  mode: Mode
  apiUrl: string
  webhook?: Webhook
  threadName: string
  autoArchiveMinutes?: 60 | 1440 | 4320 | 10080
  names: { ANSWER: string; QUESTION: string }
  avatars: { ANSWER?: string; QUESTION?: string }
  colors: { ANSWER: number; QUESTION: number }
  linkPreviews: boolean
  maxRateLimitWaitMs: number
  requestTimeoutMs: number
  desk?: DeskOptions
}

export function parseWebhookUrl(url: string): Webhook | undefined {
  const match = /\/webhooks\/([0-9]+)\/([^/?#]+)/.exec(url)
  return match ? { id: match[1]!, token: match[2]! } : undefined
}

/** Applies defaults and the rules the schema cannot say; throws an Error naming the relay. */
export function settingsFrom(options: DiscordOptions, name: string): Settings {
  const o = Value.Default(DiscordOptions, structuredClone(options)) as DiscordOptions
  const problem = (what: string) => new Error(`${name}: ${what}`)
  const webhook = o.webhookUrl === undefined ? undefined : parseWebhookUrl(o.webhookUrl)
  if (o.webhookUrl !== undefined && !webhook)
    throw problem('webhookUrl must look like https://discord.com/api/webhooks/<id>/<token>')
  if (!o.token && !webhook) throw problem('set token (a bot token) or webhookUrl')
  // A webhook posts where it points: it cannot spread conversations over channels.
  if (webhook && o.channels !== undefined)
    throw problem('channels cannot be used with webhookUrl, which always posts into its own channel; remove one')
  const channels = [...new Set([...(o.channel ? [o.channel] : []), ...(o.channels ?? [])])]
  if (o.token && !webhook && channels.length === 0)
    throw problem('set channel: the id of the channel to post into (or channels to several)')
  const mode = o.mode ?? 'thread'
  // A webhook cannot start a thread in a text channel; only a bot can.
  if (mode === 'thread' && !o.token)
    throw problem(
      'mode "thread" needs a bot token to create threads; add token, or use mode "forum" or "channel" with webhookUrl'
    )
  // Discord refuses webhook names with these words in them.
  for (const [option, value] of [
    ['botName', o.botName],
    ['userName', o.userName]
  ] as const) {
    if (webhook && value && /discord|clyde/i.test(value))
      throw problem(`${option} may not contain "discord" or "clyde" when posting through a webhook`)
  }
  // A channel webhook cannot carry buttons; only the bot (the application) can.
  if (o.desk && webhook)
    throw problem('desk needs the bot to post its buttons; remove webhookUrl (use another relay for it)')
  if (o.desk && !o.token) throw problem('desk needs token: the bot posts the handoff threads and their buttons')
  return {
    desk: o.desk,
    token: o.token,
    channel: channels[0],
    channels,
    mode,
    apiUrl: (o.apiUrl ?? 'https://discord.com/api').replace(/\/+$/, ''),
    webhook,
    threadName: o.threadName ?? 'GPTBots {conversationId}',
    autoArchiveMinutes: o.autoArchiveMinutes,
    names: { ANSWER: o.botName ?? 'GPTBots', QUESTION: o.userName ?? 'User' },
    avatars: { ANSWER: o.botAvatarUrl, QUESTION: o.userAvatarUrl },
    colors: { ANSWER: o.botColor ?? 0x5865f2, QUESTION: o.userColor ?? 0x99aab5 },
    linkPreviews: o.linkPreviews ?? true,
    maxRateLimitWaitMs: o.maxRateLimitWaitMs ?? 5000,
    requestTimeoutMs: o.requestTimeoutMs ?? 15000
  }
}
