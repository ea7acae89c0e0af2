/**
 * A message typed in Slack as the plain text GPTBots' user should read: Slack's `<...>` links
 * and mentions turned into what they show, and its three escaped characters restored.
 */
export function plainFromSlack(text: string): string {
  return text
    .replace(/<([^<>|]+)(?:\|([^<>]*))?>/g, (_whole, target: string, label: string | undefined) => {
      if (target.startsWith('@')) return label ? `@${label}` : '@someone'
      if (target.startsWith('#')) return label ? `#${label}` : '#channel'
      if (target.startsWith('!')) return label || `@${target.slice(1).split('^')[0]}`
      const url = target.replace(/^mailto:/, '')
      return label && label !== target && label !== url ? `${label} (${url})` : url
    })
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&')
}
