import type { DoctorCheck, DoctorContext } from '../../src/relays/types.js'
import { slackClient } from './client.js'
import { slackFailure } from './errors.js'
import { type SlackOptions, slackSettings } from './options.js'

/** The scopes the configured features need, each with why. */
function neededScopes(options: SlackOptions, desk: boolean): Map<string, string> {
  const needed = new Map([['chat:write', 'posting']])
  if (options.customize) needed.set('chat:write.customize', '"customize": true')
  if (desk && options.handoff) {
    needed.set('channels:history', "the desk hearing people's replies (a public channel)")
    needed.set('reactions:write', 'the desk marking replies ✅ or ⚠️')
  }
  return needed
}

const reinstall =
  'add it under OAuth & Permissions → Scopes (or in the app manifest) at https://api.slack.com/apps, then reinstall the app; the token stays the same'

/**
 * The token (auth.test), the scopes it was granted (Slack's x-oauth-scopes answer header) against
 * those the configured features need, each channel and the app's place in it, and with `post` a
 * test message in a thread.
 */
export async function diagnoseSlack(options: SlackOptions, context: DoctorContext): Promise<DoctorCheck[]> {
  const settings = slackSettings(options)
  const client = slackClient({ ...settings, logger: context.logger })
  const who = `Slack ${context.name}`
  const reason = (error: unknown) =>
    slackFailure(error, settings)?.reason ?? (error instanceof Error ? error.message : String(error))
  let auth: Awaited<ReturnType<typeof client.auth.test>>
  try {
    auth = await client.auth.test()
  } catch (error) {
    return [
      {
        ok: false,
        what: `${who}: the token (auth.test): ${reason(error)}`,
        fix: "copy the Bot User OAuth Token (xoxb-) from the app's OAuth & Permissions page into the variable the config names"
      }
    ]
  }
  const checks: DoctorCheck[] = [{ ok: true, what: `${who}: the token works (app user ${auth.user} in ${auth.team})` }]
  const granted = new Set(auth.response_metadata?.scopes ?? [])
  const needed = neededScopes(options, context.desk)
  const missing = [...needed].filter(([scope]) => !granted.has(scope))
  checks.push(
    missing.length === 0
      ? { ok: true, what: `${who}: scopes granted for what the config uses (${[...needed.keys()].join(', ')})` }
      : {
          ok: false,
          what: `${who}: the token lacks ${missing.map(([scope, why]) => `${scope} (for ${why})`).join(', ')}`,
          fix: reinstall
        }
  )
  for (const channel of settings.channels) {
    const where = `${who}: channel ${channel}`
    let info: Awaited<ReturnType<typeof client.conversations.info>>
    try {
      info = await client.conversations.info({ channel })
    } catch (error) {
      const code = (error as { data?: { error?: string } }).data?.error
      checks.push(
        code === 'missing_scope'
          ? {
              ok: false,
              what: `${where}: cannot be checked without channels:read (groups:read if private)`,
              fix: reinstall
            }
          : code === 'channel_not_found'
            ? {
                ok: false,
                what: `${where}: not found`,
                fix: 'check the ID (channel name → About → Channel ID); a private channel shows only once the app is invited: /invite the app there'
              }
            : { ok: false, what: `${where}: ${reason(error)}` }
      )
      continue
    }
    const private_ = info.channel?.is_private === true
    if (info.channel?.is_archived) {
      checks.push({ ok: false, what: `${where} is archived`, fix: 'unarchive it, or set "channel" to another one' })
      continue
    }
    if (private_ && needed.has('channels:history') && !granted.has('groups:history'))
      checks.push({ ok: false, what: `${where} is private: the desk needs groups:history`, fix: reinstall })
    const member = info.channel?.is_member === true
    const open = !private_ && granted.has('chat:write.public')
    checks.push(
      member || open
        ? {
            ok: true,
            what: `${where} (#${info.channel?.name}) ${member ? 'has the app as a member' : 'is public and the app has chat:write.public'}`
          }
        : {
            ok: false,
            what: `${where} (#${info.channel?.name}): the app is not a member`,
            fix: `in the channel, send /invite @${auth.user}${private_ ? '' : ', or add chat:write.public and reinstall'}`
          }
    )
    if (context.post && (member || open)) checks.push(await testPost(client, channel, where, reason))
  }
  return checks
}

async function testPost(
  client: ReturnType<typeof slackClient>,
  channel: string,
  where: string,
  reason: (error: unknown) => string
): Promise<DoctorCheck> {
  try {
    const parent = await client.chat.postMessage({ channel, text: 'gptbots-relay doctor: a test thread' })
    await client.chat.postMessage({
      channel,
      thread_ts: parent.ts,
      text: 'gptbots-relay doctor: conversations will look like this, a thread each'
    })
    return { ok: true, what: `${where}: posted a test message and a reply in its thread` }
  } catch (error) {
    return { ok: false, what: `${where}: the test post failed: ${reason(error)}` }
  }
}
