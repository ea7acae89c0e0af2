import type { RelayInit } from '../../src/relays/types.js'
import type { SlackClient } from './client.js'
import { slackFailure } from './errors.js'
import type { SlackSettings } from './options.js'

/**
 * Checks, at start and for readiness probes, that the token works (auth.test) and that the
 * channel exists and is open (conversations.info). Throws an Error naming the relay and saying
 * what to fix; the SDK's error is kept as its cause.
 */
export async function checkReadiness(client: SlackClient, settings: SlackSettings, init: RelayInit): Promise<void> {
  const { channel } = settings
  const fail = (what: string, error: unknown): never => {
    const reason = slackFailure(error, settings)?.reason ?? (error instanceof Error ? error.message : String(error))
    throw new Error(`Slack relay ${init.name}: ${what}: ${reason}`, { cause: error })
  }

  const auth = await client.auth.test().catch(error => fail('token check (auth.test) failed', error))
  let info
  try {
    info = await client.conversations.info({ channel })
  } catch (error) {
    // Reading channel details takes channels:read (groups:read if private), which posting does
    // not need: without it the channel goes unchecked rather than the relay refusing to start.
    if (platformError(error) === 'missing_scope') {
      init.logger.warn(
        { channel },
        `Slack relay ${init.name}: cannot check channel ${channel} without channels:read or groups:read; posting may still work`
      )
      return
    }
    return fail(`channel ${channel} check (conversations.info) failed`, error)
  }
  if (info.channel?.is_archived) {
    throw new Error(
      `Slack relay ${init.name}: channel ${channel} is archived: unarchive it or set "channel" to another channel`
    )
  }
  if (info.channel?.is_member === false) {
    init.logger.warn(
      { channel },
      `Slack relay ${init.name}: the app is not a member of channel ${channel}: posting needs chat:write.public or an /invite`
    )
  }
  init.logger.info({ channel, team: auth.team, bot: auth.user }, `Slack relay ${init.name} is ready`)
}

function platformError(error: unknown): string | undefined {
  const data = (error as { data?: { error?: unknown } } | undefined)?.data
  return typeof data?.error === 'string' ? data.error : undefined
}
