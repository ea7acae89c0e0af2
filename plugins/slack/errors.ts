import { rootCause } from '../../src/relays/cause.js'
import type { RelayLogger } from '../../src/relays/types.js'
import { SdkErrorCode } from './client.js'
import { ChannelHeld } from '../../src/relays/channel-pacer.js'

/** What a failed Slack call means for the delivery. */
export type SlackFailure =
  /** Slack answered 429: wait `retryAfterMs`, and keep the channel quiet meanwhile. */
  | { kind: 'rate-limited'; retryAfterMs: number; reason: string }
  /** Our own pacer is holding the channel after an earlier 429. */
  | { kind: 'held'; retryAfterMs: number; reason: string }
  /** Retrying cannot help until an admin acts; `reason` says what to do. */
  | { kind: 'permanent'; code: string; reason: string }
  /** Slack refused the token itself: no message can go until it is fixed, so all of them wait. */
  | { kind: 'credentials'; code: string; reason: string }
  /** The conversation's thread is gone on Slack: start a new one. */
  | { kind: 'thread-gone'; code: string; reason: string }
  /** Worth another try later: 5xx, network errors, timeouts, Slack's own hiccups. */
  | { kind: 'transient'; reason: string }

interface Where {
  channel: string
  apiUrl: string
}

// Errors an admin must fix, each with what to do about it.
const needsAdmin: Record<string, (where: Where, needed?: string) => string> = {
  channel_not_found: ({ channel }) =>
    `Slack channel ${channel} was not found: set "channel" to a channel ID (such as C0123456, not a #name) ` +
    'and, for a private channel, invite the app to it',
  not_in_channel: ({ channel }) =>
    `the Slack app is not a member of channel ${channel}: invite it (/invite @app) or grant it the chat:write.public scope`,
  is_archived: ({ channel }) =>
    `Slack channel ${channel} is archived: unarchive it or set "channel" to another channel`,
  invalid_auth: () => 'Slack rejected the token: check "token" (a bot token, xoxb-...)',
  not_authed: () => 'no Slack token was sent: set "token" (a bot token, xoxb-...)',
  account_inactive: () =>
    'the Slack token belongs to a deactivated user or workspace: reinstall the app and update "token"',
  token_revoked: () => 'the Slack token was revoked (the app was removed?): reinstall the app and update "token"',
  token_expired: () => 'the Slack token expired: use a bot token without rotation, or update "token"',
  missing_scope: (_, needed) =>
    `the Slack token lacks the scope ${needed ?? 'chat:write'}: add it under OAuth & Permissions and reinstall the app`,
  no_permission: () => "the Slack token's workspace does not allow this app to post: ask a workspace admin",
  restricted_action: ({ channel }) =>
    `a workspace setting keeps the app from posting in channel ${channel}: ask a workspace admin`,
  restricted_action_read_only_channel: ({ channel }) =>
    `channel ${channel} is read-only: set "channel" to another channel`,
  ekm_access_denied: () => 'Slack Enterprise Key Management denied access: ask a workspace admin'
}

// Slack refused what the relay built: not the admin's doing, and the same message will fail again.
const rejectedContent = new Set([
  'invalid_blocks',
  'invalid_blocks_format',
  'msg_too_long',
  'msg_blocks_too_long',
  'no_text',
  'too_many_attachments',
  'invalid_arguments',
  'invalid_metadata_format',
  'invalid_metadata_schema',
  'metadata_too_large',
  'invalid_arg_name'
])

const threadGone = new Set(['thread_not_found', 'invalid_thread_ts'])

// The token itself is refused: every call fails alike until an admin fixes it.
const credentials = new Set(['invalid_auth', 'not_authed', 'account_inactive', 'token_revoked', 'token_expired'])

/** Reads a thrown SDK (or pacer) error; undefined when it is none of theirs, such as a bug. */
export function slackFailure(error: unknown, where: Where): SlackFailure | undefined {
  if (error instanceof ChannelHeld) return { kind: 'held', retryAfterMs: error.remainingMs, reason: error.message }
  if (isAbort(error)) return { kind: 'transient', reason: 'the delivery was aborted (timeout or shutdown)' }
  if (typeof error !== 'object' || error === null || !('code' in error)) return undefined
  const sdk = error as { code: unknown } & Record<string, unknown>
  switch (sdk.code) {
    case SdkErrorCode.RateLimitedError: {
      const seconds = typeof sdk.retryAfter === 'number' ? sdk.retryAfter : 1
      return {
        kind: 'rate-limited',
        retryAfterMs: seconds * 1000,
        reason: `Slack rate limit on channel ${where.channel}: retry after ${seconds} s`
      }
    }
    case SdkErrorCode.PlatformError:
      return platformFailure(
        sdk.data as { error?: string; needed?: string; response_metadata?: { messages?: string[] } },
        where
      )
    case SdkErrorCode.HTTPError:
      return { kind: 'transient', reason: `Slack answered HTTP ${String(sdk.statusCode)} at ${where.apiUrl}` }
    case SdkErrorCode.RequestError:
      return {
        kind: 'transient',
        reason: `could not reach Slack at ${where.apiUrl}: ${rootCause(sdk.original)}; check "apiUrl" and that this host can reach it`
      }
    default:
      return undefined
  }
}

/** Whether Slack answered a call with a refusal (an error or a 429), so that it surely did nothing. */
export function refused(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code
  return code === SdkErrorCode.PlatformError || code === SdkErrorCode.RateLimitedError || error instanceof ChannelHeld
}

function platformFailure(
  data: { error?: string; needed?: string; response_metadata?: { messages?: string[] } },
  where: Where
): SlackFailure {
  const code = data.error ?? 'unknown_error'
  const advice = needsAdmin[code]
  if (advice) {
    const reason = `${advice(where, data.needed)} (Slack error ${code})`
    return credentials.has(code) ? { kind: 'credentials', code, reason } : { kind: 'permanent', code, reason }
  }
  if (threadGone.has(code))
    return { kind: 'thread-gone', code, reason: `the conversation's Slack thread is gone (${code})` }
  if (rejectedContent.has(code)) {
    const detail = data.response_metadata?.messages?.join('; ')
    return {
      kind: 'permanent',
      code,
      reason: `Slack rejected the message as ${code}${detail ? ` (${detail})` : ''}: a bug in the Slack relay, please report it`
    }
  }
  // Anything else (internal_error, fatal_error, service_unavailable, ...) may pass.
  return { kind: 'transient', reason: `Slack answered ${code}` }
}

function isAbort(error: unknown): boolean {
  return error instanceof Error && (error.name === 'AbortError' || error.name === 'TimeoutError')
}

/**
 * Tells the admin about each distinct permanent failure once, loudly, instead of once per message.
 * Forgets them after a success, so that a problem that comes back is reported again.
 */
export class AdminAlerts {
  readonly #told = new Set<string>()

  constructor(
    private readonly logger: RelayLogger,
    private readonly relay: string
  ) {}

  report(code: string, reason: string): void {
    if (this.#told.has(code)) return
    this.#told.add(code)
    // The relay's logger carries `relay` already: a second one would repeat the key in the JSON line.
    this.logger.error({ slackError: code }, `Slack relay ${this.relay}: ${reason}`)
  }

  recovered(): void {
    this.#told.clear()
  }
}
