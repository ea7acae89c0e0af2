import type { DoctorCheck, DoctorContext } from '../../src/relays/types.js'
import { type DiscordOptions, settingsFrom } from './options.js'
import { type APIChannel, DiscordApi } from './rest.js'

// Discord's permission bits (https://discord.com/developers/docs/topics/permissions), by their names in the app.
const bits = {
  Administrator: 1n << 3n,
  'View Channel': 1n << 10n,
  'Send Messages': 1n << 11n,
  'Embed Links': 1n << 14n,
  'Create Public Threads': 1n << 35n,
  'Send Messages in Threads': 1n << 38n,
  'Add Reactions': 1n << 6n
} as const
type Permission = keyof typeof bits

/** What each mode needs in its channel (docs/discord.md's table), and the channel types it takes. */
const modes = {
  thread: {
    types: [0, 5],
    kind: 'a text or announcement channel',
    needs: ['View Channel', 'Create Public Threads', 'Send Messages in Threads', 'Embed Links']
  },
  forum: {
    types: [15],
    kind: 'a forum channel',
    needs: ['View Channel', 'Send Messages', 'Send Messages in Threads', 'Embed Links']
  },
  channel: {
    types: [0, 5],
    kind: 'a text or announcement channel',
    needs: ['View Channel', 'Send Messages', 'Embed Links']
  }
} satisfies Record<string, { types: number[]; kind: string; needs: Permission[] }>

interface Overwrite {
  id: string
  type: number
  allow: string
  deny: string
}

/** The bot's permissions in a channel: its roles server-wide, then the channel's overwrites, as Discord computes them. */
function permissionsIn(
  channel: APIChannel & { guild_id?: string; permission_overwrites?: Overwrite[] },
  roles: { id: string; permissions: string }[],
  member: { roles: string[] },
  botId: string
): bigint {
  const guildId = channel.guild_id!
  const roleBits = (id: string) => BigInt(roles.find(r => r.id === id)?.permissions ?? '0')
  let allowed = roleBits(guildId)
  for (const role of member.roles) allowed |= roleBits(role)
  if (allowed & bits.Administrator) return ~0n
  const overwrites = channel.permission_overwrites ?? []
  const apply = (list: Overwrite[]) => {
    let deny = 0n
    let allow = 0n
    for (const o of list) {
      deny |= BigInt(o.deny)
      allow |= BigInt(o.allow)
    }
    allowed = (allowed & ~deny) | allow
  }
  apply(overwrites.filter(o => o.id === guildId))
  apply(overwrites.filter(o => o.type === 0 && member.roles.includes(o.id)))
  apply(overwrites.filter(o => o.type === 1 && o.id === botId))
  return allowed
}

const said = (error: unknown) => (error instanceof Error ? error.message : String(error))

/** The token, each channel's type against the mode, and the bot's permissions there. */
export async function diagnoseDiscord(options: DiscordOptions, context: DoctorContext): Promise<DoctorCheck[]> {
  const settings = settingsFrom(options, context.name)
  const who = `Discord ${context.name}`
  if (!settings.token) return [{ ok: true, what: `${who}: posts through its webhook (no bot token to check)` }]
  const api = new DiscordApi(settings)
  let bot: Awaited<ReturnType<DiscordApi['me']>>
  try {
    bot = await api.me()
  } catch (error) {
    return [
      {
        ok: false,
        what: `${who}: the token (GET /users/@me): ${said(error)}`,
        fix: 'Developer Portal → your application → Bot → Reset Token, and put the new token in the variable the config names'
      }
    ]
  }
  const checks: DoctorCheck[] = [{ ok: true, what: `${who}: the token works (bot ${bot.username})` }]
  const mode = modes[settings.mode]
  const needs: Permission[] = context.desk ? [...mode.needs, 'Add Reactions'] : mode.needs
  for (const id of settings.channels) {
    const where = `${who}: channel ${id}`
    let channel: APIChannel
    try {
      channel = await api.channel(id)
    } catch (error) {
      checks.push({
        ok: false,
        what: `${where}: ${said(error)}`,
        fix: 'check the id (Developer Mode → right-click the channel → Copy Channel ID) and that the bot was invited to that server and may view the channel'
      })
      continue
    }
    if (!(mode.types as number[]).includes(channel.type)) {
      const forum = channel.type === 15
      checks.push({
        ok: false,
        what: `${where} (#${channel.name}) is ${forum ? 'a forum channel' : `of type ${channel.type}`}, but mode "${settings.mode}" needs ${mode.kind}`,
        fix: forum
          ? 'set "mode": "forum" for this channel, or pick a text channel'
          : 'set "mode" to match the channel, or pick another channel'
      })
      continue
    }
    checks.push({ ok: true, what: `${where} (#${channel.name}) suits mode "${settings.mode}"` })
    const guildId = (channel as { guild_id?: string }).guild_id
    if (!guildId) continue
    try {
      const roles = (await api.rest.get(`/guilds/${guildId}/roles`)) as { id: string; permissions: string }[]
      const member = (await api.rest.get(`/guilds/${guildId}/members/${bot.id}`)) as { roles: string[] }
      const granted = permissionsIn(channel, roles, member, bot.id)
      const lacking = needs.filter(p => !(granted & bits[p]))
      checks.push(
        lacking.length === 0
          ? { ok: true, what: `${where}: the bot has ${needs.join(', ')}` }
          : {
              ok: false,
              what: `${where}: the bot lacks ${lacking.join(', ')}`,
              fix: 'Edit Channel → Permissions → add the bot (or its role) and allow them, or invite it again with the link in docs/discord.md'
            }
      )
    } catch (error) {
      checks.push({ ok: false, what: `${where}: cannot read the bot's permissions: ${said(error)}` })
    }
  }
  return checks
}
