import type { SlackClient } from './client.js'

/**
 * A link to a posted message, built as chat.getPermalink builds it, from the workspace URL that
 * auth.test gives (https://team.slack.com/), the channel and the message's ts:
 * {url}archives/{channel}/p{ts without its dot}, with `?thread_ts=..&cid=..` for a thread reply.
 */
export function slackPermalink(
  workspaceUrl: string | undefined,
  channel: string,
  ts: string | undefined,
  threadTs?: string
): string | undefined {
  if (!workspaceUrl || !/^https:\/\/[^/?#\s]+\/?$/i.test(workspaceUrl)) return undefined
  if (!ts || !/^\d+\.\d+$/.test(ts) || !/^[A-Z0-9]+$/i.test(channel)) return undefined
  const base = `${workspaceUrl.replace(/\/?$/, '/')}archives/${channel}/p${ts.replace('.', '')}`
  return threadTs && threadTs !== ts && /^\d+\.\d+$/.test(threadTs)
    ? `${base}?thread_ts=${threadTs}&cid=${channel}`
    : base
}

/**
 * The workspace URL, asked of auth.test once per relay (not once per post) and kept; a failed
 * ask is tried again at the next delivery, and meanwhile deliveries go without a link.
 */
export class WorkspaceUrl {
  private url: Promise<string | undefined> | undefined

  constructor(private readonly client: Pick<SlackClient, 'auth'>) {}

  get(): Promise<string | undefined> {
    this.url ??= this.client.auth.test().then(
      auth => (typeof auth.url === 'string' ? auth.url : undefined),
      () => {
        this.url = undefined
        return undefined
      }
    )
    return this.url
  }
}
