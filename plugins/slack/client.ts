// The one place in the project that touches Slack's SDK: its Web API client, nothing of an app
// framework (the relay's own routes take Slack's events).
import { ErrorCode, LogLevel, WebClient } from '@slack/web-api'
import type { RelayLogger } from '../../src/relays/types.js'

export type SlackClient = InstanceType<typeof WebClient>
type SdkLogger = NonNullable<NonNullable<ConstructorParameters<typeof WebClient>[1]>['logger']>

/** The SDK's error codes, for telling its failures apart without importing it elsewhere. */
export const SdkErrorCode = ErrorCode

export interface ClientOptions {
  token: string
  apiUrl: string
  timeoutMs: number
  logger: RelayLogger
}

export function slackClient({ token, apiUrl, timeoutMs, logger }: ClientOptions): SlackClient {
  return new WebClient(token, {
    slackApiUrl: apiUrl,
    // The core owns retries and backoff. The SDK must neither retry on its own (10 times over
    // 30 minutes by default) nor wait out a 429 by pausing its queue: it throws, the relay
    // answers retry(retryAfterMs) and holds the channel in its pacer.
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
    timeout: timeoutMs,
    logger: sdkLogger(logger)
  })
}

// The relay reports every outcome itself; what the SDK has to say is detail for debugging.
function sdkLogger(logger: RelayLogger): SdkLogger {
  let level: ReturnType<SdkLogger['getLevel']> = LogLevel.DEBUG
  const say = (...parts: unknown[]) => logger.debug({ sdk: 'slack' }, parts.map(String).join(' '))
  return {
    debug: say,
    info: say,
    warn: say,
    error: say,
    setLevel: next => {
      level = next
    },
    getLevel: () => level,
    setName: () => {}
  }
}
