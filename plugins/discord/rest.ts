// The one module of the project that calls Discord's REST API (through @discordjs/rest); the rest
// of the relay sees plain JSON, typed by discord-api-types. No Gateway: the desk takes Discord's
// HTTP interactions.
import { DiscordAPIError, HTTPError, REST, RateLimitError, type RateLimitData } from '@discordjs/rest'
import {
  Routes,
  type APIChannel,
  type ChannelType,
  type APIMessage,
  type APIThreadList,
  type APIUser,
  type APIWebhook
} from 'discord-api-types/v10'
import type { Embed } from './embeds.js'
import type { Settings, Webhook } from './options.js'

export { DiscordAPIError, HTTPError, RateLimitError }
export type { APIChannel, APIMessage, APIUser, APIWebhook }

/** Mentions show as text and never ping: the relay posts other people's words. */
export const NO_PINGS = { parse: [] as never[] }

export interface MessageBody {
  content?: string
  embeds?: Embed[]
  flags?: number
  allowed_mentions: typeof NO_PINGS
}

/** How long the SDK would wait before it could send: for a 429 and for a bucket it knows is empty. */
export const rateLimitWait = (data: RateLimitData) => Math.max(data.retryAfter, data.timeToReset, 0)

/**
 * Runs one request under its own signal, tied to the delivery's for as long as the request runs:
 * the SDK never removes the abort listener it adds, so handing it the delivery's signal directly
 * would pile up one listener per request on it.
 */
async function scoped<T>(
  signal: AbortSignal | undefined,
  call: (signal: AbortSignal | undefined) => Promise<unknown>
): Promise<T> {
  if (!signal) return call(undefined) as Promise<T>
  const controller = new AbortController()
  const abort = () => controller.abort(signal.reason)
  if (signal.aborted) abort()
  else signal.addEventListener('abort', abort, { once: true })
  try {
    return (await call(controller.signal)) as T
  } finally {
    signal.removeEventListener('abort', abort)
  }
}

/** The Discord REST calls the relay makes, through one rate-limit-aware client. */
export class DiscordApi {
  readonly rest: REST

  constructor(private readonly settings: Settings) {
    this.rest = new REST({
      version: '10',
      api: settings.apiUrl,
      timeout: settings.requestTimeoutMs,
      // The core retries with backoff and the nonce makes that safe; retrying inside as well would multiply attempts.
      retries: 0,
      // Short waits are waited out per bucket (other channels go on); a long one becomes a retry for the core.
      rejectOnRateLimit: data => rateLimitWait(data) > settings.maxRateLimitWaitMs
    })
  }

  /** The client forgets its token after a 401; set it again so a token fixed later works. */
  private bot(): REST {
    if (!this.settings.token) throw new Error('this call needs a bot token')
    return this.rest.setToken(this.settings.token)
  }

  me(signal?: AbortSignal): Promise<APIUser> {
    return scoped<APIUser>(signal, s => this.bot().get(Routes.user('@me'), { signal: s }))
  }

  channel(id: string, signal?: AbortSignal): Promise<APIChannel> {
    return scoped<APIChannel>(signal, s => this.bot().get(Routes.channel(id), { signal: s }))
  }

  activeThreads(guildId: string, signal?: AbortSignal): Promise<APIThreadList> {
    return scoped<APIThreadList>(signal, s => this.bot().get(Routes.guildActiveThreads(guildId), { signal: s }))
  }

  createMessage(
    channelId: string,
    body: MessageBody & { nonce: string; enforce_nonce: true },
    signal?: AbortSignal
  ): Promise<APIMessage> {
    return scoped<APIMessage>(signal, s => this.bot().post(Routes.channelMessages(channelId), { body, signal: s }))
  }

  /** A public thread without a starter message (type 11; 10 in an announcement channel). */
  startThread(
    channelId: string,
    body: {
      name: string
      type: ChannelType.AnnouncementThread | ChannelType.PublicThread
      auto_archive_duration?: number
    },
    signal?: AbortSignal
  ): Promise<APIChannel> {
    return scoped<APIChannel>(signal, s => this.bot().post(Routes.threads(channelId), { body, signal: s }))
  }

  /** A forum post: the thread and its first message in one call. */
  startForumPost(
    forumId: string,
    body: { name: string; message: MessageBody; auto_archive_duration?: number },
    signal?: AbortSignal
  ): Promise<APIChannel> {
    return scoped<APIChannel>(signal, s => this.bot().post(Routes.threads(forumId), { body, signal: s }))
  }

  webhookInfo(webhook: Webhook, signal?: AbortSignal): Promise<APIWebhook> {
    return scoped<APIWebhook>(signal, s =>
      this.rest.get(Routes.webhook(webhook.id, webhook.token), { auth: false, signal: s })
    )
  }

  /** `wait=true` so Discord answers with the message (and, for a new forum post, its thread). */
  executeWebhook(
    webhook: Webhook,
    body: MessageBody & { username?: string; avatar_url?: string; thread_name?: string },
    threadId: string | undefined,
    signal?: AbortSignal
  ): Promise<APIMessage> {
    const query = new URLSearchParams({ wait: 'true' })
    if (threadId) query.set('thread_id', threadId)
    return scoped<APIMessage>(signal, s =>
      this.rest.post(Routes.webhook(webhook.id, webhook.token), { body, query, auth: false, signal: s })
    )
  }

  close(): void {
    this.rest.clearHashSweeper()
    this.rest.clearHandlerSweeper()
  }
}
