import { createHash } from 'node:crypto'
import type { KeyObject } from 'node:crypto'
import type { DeskAuthor, HandoffEvent, RelayMessage } from '../../../src/message.js'
import {
  delivered,
  type DeliveryContext,
  type DeliveryOutcome,
  type DeskAnswer,
  type HandoffDesk,
  type HandoffRef,
  type InboundAnswer,
  type InboundRequest,
  type InboundRoute,
  type RelayLogger
} from '../../../src/relays/types.js'
import { apiCode, Code } from '../errors.js'
import type { Settings } from '../options.js'
import { DiscordAPIError, type DiscordApi } from '../rest.js'
import { DeskApi } from './desk-api.js'
import {
  buttons,
  claimedPart,
  closedPart,
  closedReason,
  handoffKey,
  holdingPart,
  notePart,
  openingParts,
  parseCustomId,
  plainName,
  receiptPart,
  replyMessage,
  replyModal,
  type ButtonState,
  type DeskPart
} from './desk-messages.js'
import { interactionKey, refusalMessage, verifyInteraction, type Refusal } from './verify.js'

/** State key of the handoff's opening post, whose buttons change with a claim and a close. */
export const OPENING_KEY = 'deskOpening'

interface OpeningRecord {
  channel: string
  message: string
  key: string
  claimedBy?: DeskAuthor
  closed?: boolean
}

/** Where a reply sits, kept with it by the core and handed back in its receipt. */
interface ReplyRef {
  channel: string
  applicationId: string
  /** The interaction's token: its answer (the reply as shown) can be edited with it for 15 minutes. */
  token: string
  text: string
  author: DeskAuthor
}

/** How the relay should deliver a handoff message: the posts (or its usual ones), then what to do once they are up. */
export interface DeskDelivery {
  parts?: DeskPart[]
  after?(place: { id: string; thread: boolean }, ids: string[]): Promise<void>
}

const SIGNATURE_CODE: Record<Refusal, string> = {
  'signature-missing': 'SIGNATURE_MISSING',
  'timestamp-missing': 'SIGNATURE_MISSING',
  'timestamp-malformed': 'SIGNATURE_INVALID',
  'timestamp-stale': 'SIGNATURE_STALE',
  'signature-malformed': 'SIGNATURE_INVALID',
  'signature-wrong': 'SIGNATURE_INVALID'
}

/** Discord's interaction types and answers (API v10). */
const Interaction = { Ping: 1, Command: 2, Component: 3, Autocomplete: 4, ModalSubmit: 5 } as const
const Answer = { Pong: 1, Message: 4, Modal: 9, Choices: 8 } as const
const EPHEMERAL = 1 << 6

const json = (status: number, body: unknown, headers: Record<string, string> = {}): InboundAnswer => ({
  status,
  headers,
  body
})
const envelope = (status: number, code: string, msg: string) =>
  json(status, { code: status, msg }, { 'x-relay-error': code })
/** A message only the person who clicked sees. */
const ephemeral = (content: string): InboundAnswer =>
  json(200, { type: Answer.Message, data: { content, flags: EPHEMERAL, allowed_mentions: { parse: [] } } })

const header = (request: InboundRequest, name: string): string | undefined => {
  const value = request.headers[name]
  return Array.isArray(value) ? value[0] : value
}

/** The person behind an interaction: a guild member's user. */
function authorOf(interaction: any): DeskAuthor | undefined {
  const user = interaction.member?.user ?? interaction.user
  if (!user || typeof user.id !== 'string') return undefined
  const name = user.global_name || user.username
  return typeof name === 'string' && name ? { id: user.id, name } : { id: user.id }
}

/** The text typed in the reply modal's `text` input. */
function modalText(data: any): string | undefined {
  for (const row of Array.isArray(data?.components) ? data.components : [])
    for (const input of Array.isArray(row?.components) ? row.components : [])
      if (input?.custom_id === 'text' && typeof input.value === 'string') return input.value
  return undefined
}

export interface DiscordDeskInit {
  name: string
  settings: Settings & { desk: NonNullable<Settings['desk']> }
  api: DiscordApi
  desk?: HandoffDesk
  logger: RelayLogger
  /** The guild of the configured channel: only interactions from it act. */
  guildId(): Promise<string | undefined>
  /** The clock signatures are checked against: the relay's (RelayInit.clock). */
  now: () => number
}

/**
 * The Discord side of the human-handoff desk: a thread per handoff with its buttons (delivered
 * like any message, in order), and the interactions endpoint where the buttons and the reply
 * modal come back, signed by Discord.
 */
export class DiscordDesk {
  readonly route: InboundRoute
  private readonly key: KeyObject
  private readonly rest: DeskApi
  private readonly now: () => number

  constructor(private readonly init: DiscordDeskInit) {
    this.key = interactionKey(init.settings.desk.publicKey)
    this.rest = new DeskApi(init.api, init.settings.token!)
    this.now = init.now
    // An interaction carries at most the desk's own message (2,000 characters and its embed).
    this.route = { path: 'interactions', bodyLimit: 128 * 1024, handle: request => this.interaction(request) }
  }

  // The desk keeps each relay's links apart already.
  private linkKey = (key: string) => `key:${key}`
  private threadKey = (thread: string) => `thread:${thread}`

  // ---- handoff messages, as the dispatcher delivers them ----------------------------------------

  /** What to post for a handoff message; an outcome when it needs no post (a receipt, or a message for GPTBots). */
  async prepare(message: RelayMessage, context: DeliveryContext): Promise<DeskDelivery | DeliveryOutcome> {
    const event = message.handoff!
    const ref: HandoffRef = { source: message.source, handoffId: event.handoffId }
    switch (event.kind) {
      case 'establish':
        return this.establish(event, ref, context)
      case 'chat':
        // The user's words, labelled like any question.
        return {}
      case 'claim':
        return {
          parts: [claimedPart(event.author)],
          after: () => this.updateButtons(context, { claimedBy: event.author })
        }
      case 'close':
        return {
          parts: [closedPart(event.reason, event.author)],
          after: () => this.updateButtons(context, { closed: true })
        }
      case 'receipt':
        return this.receipt(message, event, context)
      case 'holding':
        return { parts: [holdingPart(message.text ?? '', event.afterMs)] }
      default:
        // A reply or a close for GPTBots: not the desk's to post.
        return delivered({ parts: 0 })
    }
  }

  private async establish(
    event: Extract<HandoffEvent, { kind: 'establish' }>,
    ref: HandoffRef,
    context: DeliveryContext
  ): Promise<DeskDelivery> {
    const key = handoffKey(ref)
    // Linked before the buttons exist, so that no click can come before the desk knows them.
    await this.desk().link(this.linkKey(key), ref)
    const parts = openingParts({
      key,
      userInfo: event.userInfo,
      botId: event.botId,
      email: event.email,
      history: event.history,
      names: this.init.settings.names,
      onCallRole: this.init.settings.desk.onCallRole,
      noteMarker: this.desk().noteMarker()
    })
    return {
      parts,
      after: async (place, ids) => {
        const opening: OpeningRecord = { channel: place.id, message: ids[0]!, key }
        await context.state.set(OPENING_KEY, opening)
        if (place.thread) await this.desk().link(this.threadKey(place.id), ref)
      }
    }
  }

  /** The opening post's buttons after a claim or a close; a post that is gone is left alone. */
  private async updateButtons(context: DeliveryContext, change: ButtonState): Promise<void> {
    const opening = await context.state.get<OpeningRecord>(OPENING_KEY)
    if (!opening) return
    const next: OpeningRecord = {
      ...opening,
      claimedBy: change.claimedBy ?? opening.claimedBy,
      closed: change.closed || opening.closed
    }
    try {
      await this.rest.editMessage(
        opening.channel,
        opening.message,
        { components: buttons(opening.key, { claimedBy: next.claimedBy, closed: next.closed }) },
        context.signal
      )
    } catch (error) {
      const code = apiCode(error)
      if (code !== Code.UnknownChannel && code !== Code.ArchivedThread && code !== 10008) throw error
      context.logger.info({ code }, "the handoff's opening post is gone; its buttons stay as they were")
    }
    await context.state.set(OPENING_KEY, next)
  }

  /** Marks a reply as delivered or dead where it shows: its message while Discord lets us edit it, a new one after. */
  private async receipt(
    message: RelayMessage,
    event: Extract<HandoffEvent, { kind: 'receipt' }>,
    context: DeliveryContext
  ): Promise<DeliveryOutcome> {
    const ref = event.ref as unknown as ReplyRef
    if (typeof ref.channel !== 'string' || typeof ref.token !== 'string') {
      context.logger.warn({ replyMessageId: event.replyMessageId }, 'a receipt for a reply not typed in Discord')
      return delivered({ parts: 0 })
    }
    const shown = replyMessage(ref.author, ref.text, event.status, event.error)
    try {
      const edited = await this.rest.editAnswer(ref.applicationId, ref.token, shown, context.signal)
      try {
        await this.rest.react(ref.channel, edited.id, event.status === 'delivered' ? '✅' : '⚠️', context.signal)
      } catch (error) {
        // The footer says it already; a missing Add Reactions permission is not worth a retry.
        context.logger.warn({ err: error }, 'could not react to the reply; its footer shows the receipt')
      }
      return delivered({ target: ref.channel, messageIds: [edited.id], edited: true })
    } catch (error) {
      const expired = error instanceof DiscordAPIError && (error.status === 401 || error.status === 404)
      if (!expired) throw error
    }
    const nonce = createHash('sha256').update(message.messageId).digest('base64url').slice(0, 25)
    const posted = await this.rest.createMessage(
      ref.channel,
      { ...receiptPart(ref.author, ref.text, event.status, event.error), nonce },
      context.signal
    )
    return delivered({ target: ref.channel, messageIds: [posted.id] })
  }

  private desk(): HandoffDesk {
    if (!this.init.desk) throw new Error(`${this.init.name} is not a desk: list it in handoff.relays`)
    return this.init.desk
  }

  // ---- the interactions endpoint ----------------------------------------------------------------

  private async interaction(request: InboundRequest): Promise<InboundAnswer> {
    const verdict = verifyInteraction(
      {
        signature: header(request, 'x-signature-ed25519'),
        timestamp: header(request, 'x-signature-timestamp'),
        rawBody: request.rawBody
      },
      this.key,
      this.now()
    )
    if (!verdict.ok) {
      this.init.logger.info({ reason: verdict.reason }, 'refused an interaction that Discord did not sign')
      return envelope(401, SIGNATURE_CODE[verdict.reason], refusalMessage[verdict.reason])
    }
    let interaction: any
    try {
      interaction = JSON.parse(request.rawBody.toString('utf8'))
    } catch {
      return envelope(400, 'BODY_NOT_JSON', 'the body is not valid JSON')
    }
    if (!interaction || typeof interaction !== 'object')
      return envelope(400, 'BODY_NOT_OBJECT', 'the body must be a JSON object')
    switch (interaction.type) {
      case Interaction.Ping:
        return json(200, { type: Answer.Pong })
      case Interaction.Component:
      case Interaction.ModalSubmit:
        return this.act(interaction)
      case Interaction.Autocomplete:
        return json(200, { type: Answer.Choices, data: { choices: [] } })
      case Interaction.Command:
        return ephemeral('This application has no commands: use the buttons in a handoff thread.')
      default:
        return envelope(400, 'BODY_INVALID', `unknown interaction type ${JSON.stringify(interaction.type)}`)
    }
  }

  /** A button or the reply modal: found, checked to come from the desk's channel, then acted on. */
  private async act(interaction: any): Promise<InboundAnswer> {
    const parsed = parseCustomId(interaction.data?.custom_id)
    const author = authorOf(interaction)
    if (!parsed || !author) return ephemeral('This is not a button of the handoff desk.')
    if (!this.init.desk) return ephemeral('This relay is not a handoff desk (it is not listed in handoff.relays).')
    try {
      const ref = await this.init.desk.find(this.linkKey(parsed.key))
      if (!ref) return ephemeral('The relay does not know this handoff.')
      const refusal = await this.outsider(interaction)
      if (refusal) {
        this.init.logger.warn(
          { guild: interaction.guild_id, channel: interaction.channel_id, user: author.id },
          'ignored a handoff button used outside the desk channel'
        )
        return ephemeral(refusal)
      }
      if (parsed.action === 'claim') return this.answerOf(await this.init.desk.claim({ ...ref, author }), ref, 'claim')
      if (parsed.action === 'close') return this.answerOf(await this.init.desk.close({ ...ref, author }), ref, 'close')
      if (interaction.type === Interaction.Component) {
        const record = await this.init.desk.record(ref)
        if (record?.status === 'closed')
          return ephemeral(`This handoff is closed (${closedReason(record)}): a reply would not reach the user.`)
        return json(200, { type: Answer.Modal, data: replyModal(parsed.key) })
      }
      return this.reply(interaction, ref, author)
    } catch (error) {
      this.init.logger.error({ err: error }, 'a handoff button could not be handled')
      const text = interaction.type === Interaction.ModalSubmit ? modalText(interaction.data) : undefined
      const kept = text ? `\nYour text, to copy:\n>>> ${text.slice(0, 1800)}` : ''
      return ephemeral(`⚠️ The relay could not store this just now; nothing was sent. Try again in a moment.${kept}`)
    }
  }

  /**
   * Why this interaction may not act, or undefined: it must come from the desk's guild, and from
   * its channel or a thread (or forum post) of it. Only the bot posts these buttons, and their
   * custom_id names the handoff, so the place is all there is to check; it is read from the
   * interaction itself, so a click just after the thread appears needs nothing the desk has yet
   * to store.
   */
  private async outsider(interaction: any): Promise<string | undefined> {
    const elsewhere = 'The handoff desk only acts on buttons in its own handoff threads.'
    const guild = await this.init.guildId()
    if (!guild || interaction.guild_id !== guild) return elsewhere
    const desk = this.init.settings.channel
    const channel = interaction.channel_id ?? interaction.channel?.id
    if (channel === desk) return undefined
    const parent = interaction.channel?.parent_id
    return this.init.settings.mode !== 'channel' && parent === desk ? undefined : elsewhere
  }

  private async answerOf(answer: DeskAnswer, ref: HandoffRef, action: 'claim' | 'close'): Promise<InboundAnswer> {
    switch (answer.status) {
      case 'stored':
        return ephemeral(
          action === 'claim'
            ? 'You claimed this handoff; the thread shows it.'
            : 'Closing: GPTBots is being told, and the thread will show it.'
        )
      case 'closed':
        return ephemeral(`This handoff is already closed (${closedReason(answer.record)}).`)
      case 'unknown':
        return ephemeral('The relay does not know this handoff.')
      case 'note':
        return ephemeral('Nothing was done.')
      case 'duplicate': {
        if (action === 'close') return ephemeral('This handoff is already being closed.')
        const record = await this.init.desk!.record(ref)
        return ephemeral(
          record?.claimedBy ? `Already claimed by ${plainName(record.claimedBy)}.` : 'This handoff is already claimed.'
        )
      }
    }
  }

  /** The reply modal, submitted: stored first (the core sends it to GPTBots), then shown in the thread. */
  private async reply(interaction: any, ref: HandoffRef, author: DeskAuthor): Promise<InboundAnswer> {
    const text = modalText(interaction.data)?.trim()
    if (!text) return ephemeral('The reply was empty; nothing was sent.')
    const where: ReplyRef = {
      channel: interaction.channel_id,
      applicationId: this.init.settings.desk.applicationId,
      token: interaction.token,
      text,
      author
    }
    const answer = await this.init.desk!.reply({
      ...ref,
      replyId: String(interaction.id),
      text,
      author,
      ref: { ...where }
    })
    switch (answer.status) {
      case 'stored': {
        const shown = replyMessage(author, text, 'sending')
        return json(200, { type: Answer.Message, data: shown })
      }
      case 'note':
        // Shown to the team in the thread, marked as a note; nothing was stored for GPTBots.
        return json(200, { type: Answer.Message, data: notePart(author, text) })
      case 'duplicate':
        return ephemeral('This reply was already taken.')
      case 'closed':
        return ephemeral(
          `Not sent: this handoff is closed (${closedReason(answer.record)}), so the user would not get it.\nYour text, to copy:\n>>> ${text.slice(0, 1800)}`
        )
      case 'unknown':
        return ephemeral('Not sent: the relay does not know this handoff.')
    }
  }
}
