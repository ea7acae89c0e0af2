// The Discord REST calls of the desk, through the relay's own rate-limit-aware client.
import { type APIMessage, Routes } from 'discord-api-types/v10'
import type { DiscordApi } from '../rest.js'
import type { DeskPart } from './desk-messages.js'

export class DeskApi {
  constructor(
    private readonly api: DiscordApi,
    private readonly token: string
  ) {}

  private bot() {
    return this.api.rest.setToken(this.token)
  }

  /** A message with the desk's buttons or role mention (the relay's own posts carry neither). */
  createMessage(channelId: string, body: DeskPart & { nonce?: string }, signal?: AbortSignal): Promise<APIMessage> {
    const withNonce = body.nonce ? { ...body, enforce_nonce: true } : body
    return this.bot().post(Routes.channelMessages(channelId), { body: withNonce, signal }) as Promise<APIMessage>
  }

  editMessage(
    channelId: string,
    messageId: string,
    body: Partial<DeskPart>,
    signal?: AbortSignal
  ): Promise<APIMessage> {
    return this.bot().patch(Routes.channelMessage(channelId, messageId), { body, signal }) as Promise<APIMessage>
  }

  async react(channelId: string, messageId: string, emoji: string, signal?: AbortSignal): Promise<void> {
    await this.bot().put(Routes.channelMessageOwnReaction(channelId, messageId, encodeURIComponent(emoji)), { signal })
  }

  /** Edits an interaction's answer through its webhook, which Discord keeps for 15 minutes. */
  editAnswer(applicationId: string, token: string, body: Partial<DeskPart>, signal?: AbortSignal): Promise<APIMessage> {
    return this.api.rest.patch(Routes.webhookMessage(applicationId, token, '@original'), {
      body,
      auth: false,
      signal
    }) as Promise<APIMessage>
  }
}
