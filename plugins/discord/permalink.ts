/**
 * A link to a posted message, as Discord's client builds it: https://discord.com/channels/{guild}/
 * {channel}/{message}, where the channel is the thread for a message in a thread. Snowflakes only:
 * anything else (a missing guild, a direct message) gives no link rather than a wrong one.
 */
export function discordPermalink(
  guildId: string | undefined,
  channelId: string | undefined,
  messageId: string | undefined
): string | undefined {
  const ids = [guildId, channelId, messageId]
  if (!ids.every(id => typeof id === 'string' && /^\d{1,20}$/.test(id))) return undefined
  return `https://discord.com/channels/${ids.join('/')}`
}

/** Where a relay learns its guild, and the channel of its webhook: each fetched once by the relay. */
export interface PermalinkSources {
  guild: () => Promise<string | null | undefined>
  webhookChannel: () => Promise<string | null | undefined>
}

/**
 * The link to the first message of a delivery. `place` is where it was posted: a channel or
 * thread id, or `webhook:<id>` for the webhook's own channel. The lookups are cached by the
 * relay, so this costs no request per post; a failed lookup gives no link, never a failed delivery.
 */
export async function deliveryLink(
  sources: PermalinkSources,
  place: string,
  messageId: string | undefined
): Promise<string | undefined> {
  try {
    const channel = place.startsWith('webhook:') ? await sources.webhookChannel() : place
    return discordPermalink((await sources.guild()) ?? undefined, channel ?? undefined, messageId)
  } catch {
    // The link is a convenience for the dashboard: the message is delivered all the same.
    return undefined
  }
}
