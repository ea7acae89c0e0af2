import { RESTJSONErrorCodes } from 'discord-api-types/v10'
import { rootCause } from '../../src/relays/cause.js'
import { DiscordAPIError, HTTPError, RateLimitError } from './rest.js'

/** What went wrong with a call to Discord, as the relay must treat it. */
export type Trouble =
  /** Trying again will not help until an admin acts; `key` tells distinct problems apart for logging. */
  | { kind: 'permanent'; reason: string; key: string }
  /** Discord refused the token (of the bot or of webhookUrl): nothing can go until it is fixed. */
  | { kind: 'credentials'; reason: string }
  | { kind: 'transient'; reason: string; retryAfterMs?: number }

// Discord's JSON error codes the relay tells apart, by discord-api-types' names.
export const Code = {
  UnknownChannel: RESTJSONErrorCodes.UnknownChannel,
  UnknownWebhook: RESTJSONErrorCodes.UnknownWebhook,
  MissingAccess: RESTJSONErrorCodes.MissingAccess,
  CannotSendEmpty: RESTJSONErrorCodes.CannotSendAnEmptyMessage,
  NotATextChannel: RESTJSONErrorCodes.CannotSendMessagesInNonTextChannel,
  MissingPermissions: RESTJSONErrorCodes.MissingPermissions,
  InvalidWebhookToken: RESTJSONErrorCodes.InvalidWebhookToken,
  InvalidFormBody: RESTJSONErrorCodes.InvalidFormBodyOrContentType,
  ArchivedThread: RESTJSONErrorCodes.InvalidActionOnArchivedThread,
  WebhookThreadsOnlyInForums: RESTJSONErrorCodes.WebhooksCanOnlyCreateThreadsInForumChannels
} as const

export const apiCode = (error: unknown): number | string | undefined =>
  error instanceof DiscordAPIError ? error.code : undefined

const PERMISSIONS =
  'View Channel, Send Messages, Send Messages in Threads, Create Public Threads, Embed Links and Read Message History'

/** What the admin must do about a refusal, given where the relay was posting (`channel 123`, `thread 456`, `the webhook`). */
function refusal(error: DiscordAPIError, where: string): string {
  const said = `Discord said ${error.status} ${error.code}: ${error.message.split('\n')[0]}`
  switch (error.code) {
    case Code.UnknownChannel:
      return `${where} does not exist or the bot cannot see it; check the channel id in the config (${said})`
    case Code.UnknownWebhook:
      return `the webhook of webhookUrl no longer exists; create a new one in the channel's Integrations settings and update webhookUrl (${said})`
    case Code.InvalidWebhookToken:
      return `the token in webhookUrl is wrong; copy the webhook URL again from the channel's Integrations settings (${said})`
    case Code.MissingAccess:
      return `the bot cannot see ${where}; add the bot to the server and allow it View Channel there (${said})`
    case Code.MissingPermissions:
      return `the bot lacks a permission in ${where}; allow it ${PERMISSIONS} (${said})`
    case Code.NotATextChannel:
      return `${where} does not take messages directly; use mode "forum" for a forum channel, or a text channel (${said})`
    case Code.WebhookThreadsOnlyInForums:
      return `a webhook can only start posts in a forum channel; use a webhook of a forum channel, or mode "channel" (${said})`
    case Code.InvalidFormBody:
    case Code.CannotSendEmpty:
      return `Discord refused the message as malformed; this is a bug in the Discord relay, please report it (${said})`
  }
  if (error.status === 401)
    return `Discord rejected the bot token; reset it in the Discord Developer Portal (Bot → Reset Token) and update token in the config (${said})`
  if (error.status === 403) return `the bot may not post in ${where}; allow it ${PERMISSIONS} (${said})`
  return `Discord refused the request to ${where} (${said})`
}

/** Sorts a failed call into "the core should retry" and "an admin must act". */
export function judge(error: unknown, where: string): Trouble {
  if (error instanceof RateLimitError) {
    const waitMs = Math.ceil(Math.max(error.retryAfter, error.timeToReset, 0))
    return {
      kind: 'transient',
      reason: `rate limited by Discord on ${error.route}${error.global ? ' (global)' : ''} for ${waitMs} ms`,
      retryAfterMs: waitMs
    }
  }
  if (error instanceof DiscordAPIError) {
    // A 4xx is an answer about the request itself: the same request would get the same answer.
    if (error.status === 408) return { kind: 'transient', reason: `Discord timed out: ${error.message}` }
    if (error.status === 401) return { kind: 'credentials', reason: refusal(error, where) }
    return { kind: 'permanent', reason: refusal(error, where), key: `${error.status}:${error.code}:${where}` }
  }
  if (error instanceof HTTPError)
    return { kind: 'transient', reason: `Discord answered ${error.status} ${error.message}` }
  const name = error instanceof Error ? error.name : ''
  if (name === 'AbortError' || name === 'TimeoutError')
    return { kind: 'transient', reason: 'the request to Discord was aborted or timed out' }
  return {
    kind: 'transient',
    reason: `could not reach Discord: ${rootCause(error)}; check "apiUrl" (when set) and that this host can reach Discord`
  }
}
