import { ChannelType } from 'discord-api-types/v10'
import type { MessageType, RelayMessage } from '../../src/message.js'
import { ChannelChoice } from '../../src/relays/channel-choice.js'
import { ChannelPacer, type Answered, type PacerTurn } from '../../src/relays/channel-pacer.js'
import { ChannelLag } from '../../src/relays/channel-lag.js'
import {
  delivered,
  failed,
  held,
  retry,
  type DeliveryContext,
  type DeliveryOutcome,
  type InboundRoute,
  type RelayInit,
  type RunContext,
  type RunOutcome,
  type RunRelay
} from '../../src/relays/types.js'
import { runOutcome } from '../../src/relays/run-adapter.js'
import { apiCode, Code, judge } from './errors.js'
import { escapeMarkdown } from '@discordjs/formatters'
import { CONTENT_LIMIT, partsOf, SUPPRESS_EMBEDS, type Look, type Part } from './format.js'
import { deliveryLink, type PermalinkSources } from './permalink.js'
import { DiscordDesk, type DeskDelivery } from './inbound/desk.js'
import { nonceFor } from './nonce.js'
import type { Settings } from './options.js'
import { DiscordApi, NO_PINGS, type APIChannel, type APIWebhook, type MessageBody } from './rest.js'
import { orphanOf, PENDING_KEY, THREAD_KEY, threadName, type PendingThread, type ThreadRecord } from './threads.js'

/** State key of how far the current message got: parts already accepted are not posted again. */
const PROGRESS_KEY = 'progress'

interface Progress {
  /** `messageId:type` of the message being posted. */
  message: string
  /** The thread or channel its parts went to; parts in another place do not count. */
  place: string
  done: number
  ids: string[]
}

/** Where a conversation's messages go: a thread (or forum post) of its own, or the shared channel. */
interface Place {
  id: string
  thread: boolean
  /** How errors name it. */
  where: string
}

/**
 * A failure while posting, with where the relay was posting (`channel 123`, `thread 456`), for
 * the message that tells the admin what to do. `threadGone`: the conversation's thread was
 * deleted (or locked) under us, so make a new one.
 */
class PostingFailed extends Error {
  constructor(
    readonly where: string,
    readonly error: unknown,
    readonly threadGone = false
  ) {
    super(`posting to ${where} failed`, { cause: error })
  }
}

/** A fact fetched from Discord once and kept; a failure is not kept, so the next call asks again. */
class Once<T> {
  private value?: Promise<T>
  constructor(private readonly fetch: (signal?: AbortSignal) => Promise<T>) {}
  get(signal?: AbortSignal): Promise<T> {
    this.value ??= this.fetch(signal).catch(error => {
      this.value = undefined
      throw error
    })
    return this.value
  }
}

const CHANNEL_TYPE_NAMES: Partial<Record<ChannelType, string>> = {
  [ChannelType.GuildText]: 'text channel',
  [ChannelType.GuildVoice]: 'voice channel',
  [ChannelType.GuildCategory]: 'category',
  [ChannelType.GuildAnnouncement]: 'announcement channel',
  [ChannelType.AnnouncementThread]: 'thread',
  [ChannelType.PublicThread]: 'thread',
  [ChannelType.PrivateThread]: 'private thread',
  [ChannelType.GuildStageVoice]: 'stage channel',
  [ChannelType.GuildForum]: 'forum channel',
  [ChannelType.GuildMedia]: 'media channel'
}

export class DiscordRelay implements RunRelay<PacerTurn> {
  private readonly api: DiscordApi
  private readonly look: Look
  /** Permanent problems already logged loudly: each is logged at error level once. */
  private readonly reported = new Set<string>()
  private readonly channelInfo = new Once<APIChannel>(async signal =>
    this.api.channel(await this.channelId(signal), signal)
  )
  /** Each of several channels' facts, fetched once (the first channel's is `channelInfo`). */
  private readonly channelInfos = new Map<string, Once<APIChannel>>()
  /** Deliveries in flight in this process, per channel: how busy a channel is for the choice. */
  private readonly inFlight = new Map<string, number>()
  /** Which channel a new conversation goes to (#15); none through a webhook, which posts where it points. */
  private readonly choice?: ChannelChoice
  private readonly lag = new ChannelLag()
  /**
   * A combined post's nonce is its first message's, the same as that message's own when it goes
   * alone: after a crash, a message first posted alone and offered again with the next ones gets
   * its earlier post back from Discord instead of being posted twice. What Discord answered is
   * kept per combined post, to tell how many of its messages an earlier post held.
   */
  private readonly nonceHead = new WeakMap<RelayMessage, RelayMessage>()
  private readonly answered = new WeakMap<RelayMessage, string>()
  private readonly webhookInfo = new Once<APIWebhook>(signal => this.api.webhookInfo(this.settings.webhook!, signal))
  private readonly botId = new Once<string>(async signal => (await this.api.me(signal)).id)
  /** Where the guild of a post's link comes from: the webhook's or the channel's, each fetched once. */
  private readonly linkSources: PermalinkSources = {
    guild: async () => {
      if (this.settings.webhook) return (await this.webhookInfo.get()).guild_id
      const channel = await this.channelInfo.get()
      return 'guild_id' in channel ? channel.guild_id : undefined
    },
    webhookChannel: async () => (await this.webhookInfo.get()).channel_id
  }
  /**
   * Channel mode: every conversation shares the channel's bucket (5 posts per 5 s), so posts take
   * turns by conversation, one a second (#15). Threads and forum posts have buckets of their own.
   */
  private readonly pacer?: ChannelPacer
  /** The human-handoff desk (#17), when `desk` is configured: its interactions endpoint and its threads. */
  private readonly desk?: DiscordDesk
  readonly inbound?: InboundRoute[]

  constructor(
    private readonly settings: Settings,
    private readonly init: RelayInit
  ) {
    this.api = new DiscordApi(settings)
    if (!settings.webhook && settings.channels.length > 0)
      this.choice = new ChannelChoice(settings.channels, { waiting: channel => this.inFlight.get(channel) ?? 0 })
    if (settings.mode === 'channel') {
      this.pacer = new ChannelPacer(init.clock, 1000, 1)
    }
    this.look = {
      labelRole: !settings.webhook,
      markConversation: settings.mode === 'channel',
      names: settings.names,
      colors: settings.colors,
      linkPreviews: settings.linkPreviews
    }
    if (init.desk && !settings.desk)
      throw new Error(
        `${init.name} is in handoff.relays: set its desk.applicationId and desk.publicKey (docs/discord.md)`
      )
    if (settings.desk) {
      this.desk = new DiscordDesk({
        name: init.name,
        settings: { ...settings, desk: settings.desk },
        api: this.api,
        desk: init.desk,
        logger: init.logger,
        now: () => init.clock.now(),
        guildId: async () => {
          const channel = await this.channelInfo.get()
          return 'guild_id' in channel ? channel.guild_id : undefined
        }
      })
      this.inbound = [this.desk.route]
    }
  }

  /** At most this many messages in one combined post: their text must fit 2,000 characters anyway. */
  readonly runLimits = { maxMessages: 20, maxChars: CONTENT_LIMIT }

  /** Per channel, when the oldest message offered and not yet posted was received (/metrics, #15). */
  channelLag(): ReadonlyMap<string, number> {
    return this.lag.snapshot()
  }

  /** In channel mode: waits for the conversation's turn in its channel, for the run that follows. */
  async takeTurn(message: RelayMessage, context: DeliveryContext): Promise<PacerTurn | undefined> {
    if (!this.pacer || (message.handoff && this.desk)) return undefined
    const place = this.pacedPlace(await this.channelFor(message, context))
    return this.pacer.turn(place, context.signal, { key: message.conversationId })
  }

  /** Where channel mode's posts are paced: the channel, or the webhook's own. */
  private pacedPlace(channel: string | undefined): string {
    const { webhook } = this.settings
    return webhook ? `webhook:${webhook.id}` : (channel ?? this.settings.channel ?? '')
  }

  /** Channel mode: the slot for the conversation's next post, the run's turn or the next in turn. */
  private async slot(
    place: Place,
    message: RelayMessage,
    signal: AbortSignal,
    turn: PacerTurn | undefined
  ): Promise<Answered | undefined> {
    if (!this.pacer || place.thread || (message.handoff && this.desk)) return undefined
    return turn?.use(place.id) ?? this.pacer.take(place.id, signal, { key: message.conversationId })
  }

  /**
   * The channel a conversation's messages go to, through the bot: the desk's own (the first) for
   * handoff threads; the channel of the conversation's thread when it has one (chosen before, or the
   * first channel for a thread made before several were given); else the choice for a new one.
   */
  private async channelFor(message: RelayMessage, context: DeliveryContext): Promise<string | undefined> {
    if (!this.choice) return undefined
    if (message.handoff && this.desk) return this.settings.channel
    if (this.settings.mode !== 'channel' && (await context.state.get<ThreadRecord>(THREAD_KEY)))
      return (await this.choice.chosen(context.state)) ?? this.settings.channel
    return this.choice.of(context.state)
  }

  /** Runs a delivery into `channel`, counted as in flight there and as lag until it settles. */
  private async tracked(
    channel: string | undefined,
    messages: RelayMessage[],
    run: () => Promise<RunOutcome>
  ): Promise<RunOutcome> {
    if (channel === undefined) return run()
    this.inFlight.set(channel, (this.inFlight.get(channel) ?? 0) + 1)
    this.lag.offered(channel, messages)
    let delivered = 0
    let done = false
    try {
      const outcome = await run()
      delivered = outcome.delivered.length
      done = outcome.next?.status === 'failed'
      return outcome
    } finally {
      this.lag.settled(messages, delivered, done)
      const left = (this.inFlight.get(channel) ?? 1) - 1
      if (left > 0) this.inFlight.set(channel, left)
      else this.inFlight.delete(channel)
    }
  }

  private async deliverOne(
    message: RelayMessage,
    context: RunContext<PacerTurn>,
    channel: string | undefined
  ): Promise<DeliveryOutcome> {
    let desk: DeskDelivery | undefined
    if (message.handoff && this.desk) {
      try {
        const prepared = await this.desk.prepare(message, context)
        if ('status' in prepared) return prepared
        desk = prepared
      } catch (error) {
        return this.outcomeOf(error, 'the handoff thread', context)
      }
    }
    return this.deliverParts(message, desk?.parts ?? partsOf(message, this.look), context, channel, desk)
  }

  /**
   * Posts the lane's head and the messages after it that fit whole in one Discord message (#15):
   * each turn opens with a line naming its speaker and the time it was written (Discord shows
   * `<t:…>` in the reader's time zone). A message that needs several parts or carries embeds goes
   * alone. One post per call; the rest is offered again. The combined post's progress is keyed on
   * all its messages; its nonce is its first message's (see nonceHead).
   */
  async deliverRun(messages: RelayMessage[], context: RunContext<PacerTurn>): Promise<RunOutcome> {
    const head = messages[0] as RelayMessage
    const channel = await this.channelFor(head, context)
    return this.tracked(channel, messages, () => this.deliverGroup(messages, context, channel))
  }

  private async deliverGroup(
    messages: RelayMessage[],
    context: RunContext<PacerTurn>,
    channel: string | undefined
  ): Promise<RunOutcome> {
    const head = messages[0] as RelayMessage
    // Handoff threads are the desk's: their messages are never combined.
    const group = head.handoff && this.desk ? [] : this.combinable(messages)
    if (group.length < 2) return runOutcome(await this.deliverOne(head, context, channel))
    const combined: RelayMessage = {
      ...head,
      messageId: group.map(turn => turn.message.messageId).join('+'),
      text: group.map(turn => turn.content).join('\n')
    }
    const part: Part = { content: combined.text }
    if (this.look.linkPreviews === false) part.flags = SUPPRESS_EMBEDS
    this.nonceHead.set(combined, head)
    const outcome = await this.deliverParts(combined, [part], context, channel)
    if (outcome.status !== 'delivered') return { delivered: [], next: outcome }
    const held = this.earlierHeld(group, part.content ?? '', this.answered.get(combined))
    const posted = { ...outcome.posted, combined: held }
    return { delivered: group.slice(0, held).map(() => posted) }
  }

  /**
   * How many of the group the post Discord answered holds: all, unless Discord gave back an
   * earlier post under the same nonce (it began with the head), whose text then tells.
   */
  private earlierHeld(group: { content: string }[], sent: string, answered: string | undefined): number {
    if (answered === undefined || answered === sent) return group.length
    for (let count = group.length - 1; count > 1; count--)
      if (
        group
          .slice(0, count)
          .map(turn => turn.content)
          .join('\n') === answered
      )
        return count
    return 1
  }

  /** The head and the messages after it that fit one post together, each as its turn's text. */
  private combinable(messages: RelayMessage[]): { message: RelayMessage; content: string }[] {
    const bare: Look = { ...this.look, labelRole: false, markConversation: false }
    const group: { message: RelayMessage; content: string }[] = []
    let length = 0
    for (const message of messages) {
      // Through a webhook, a post has its speaker's name: only one speaker's turns go together.
      if (this.settings.webhook && message.type !== messages[0]?.type) break
      const parts = partsOf(message, bare)
      if (parts.length !== 1 || parts[0]?.embeds || !parts[0]?.content) break
      const header = this.turnHeader(message, group.length === 0)
      const content = `${header}\n${parts[0].content}`
      if (length + content.length + 1 > CONTENT_LIMIT) break
      group.push({ message, content })
      length += content.length + 1
    }
    return group
  }

  private turnHeader(message: RelayMessage, first: boolean): string {
    const icon = message.type === 'ANSWER' ? '🤖' : '👤'
    const name = escapeMarkdown(this.settings.names[message.type])
    const when = `<t:${Math.floor(message.createdAt / 1000)}:T>`
    const mark =
      first && this.look.markConversation ? ` · conversation \`${message.conversationId.replace(/`/g, '')}\`` : ''
    return `**${icon} ${name}** · ${when}${mark}`
  }

  private async deliverParts(
    message: RelayMessage,
    parts: Part[],
    context: RunContext<PacerTurn>,
    channel: string | undefined,
    desk?: DeskDelivery
  ): Promise<DeliveryOutcome> {
    if (parts.length === 0) {
      context.logger.debug(
        { messageId: message.messageId },
        'nothing to post: the message has no text and no flow output'
      )
      return delivered({ parts: 0 })
    }
    const key = `${message.messageId}:${message.type}`
    const saved = await context.state.get<Progress>(PROGRESS_KEY)
    let progress: Progress = saved?.message === key ? saved : { message: key, place: '', done: 0, ids: [] }
    for (let recreated = false; ; ) {
      try {
        if (progress.done < parts.length) progress = await this.postParts(message, parts, progress, context, channel)
        await desk?.after?.({ id: progress.place, thread: this.settings.mode !== 'channel' }, progress.ids)
        // `target` is the thread or channel id (`webhook:<id>` for a webhook's own channel).
        const link = await deliveryLink(this.linkSources, progress.place, progress.ids[0])
        return delivered({ target: progress.place, messageIds: progress.ids, parts: parts.length, link })
      } catch (error) {
        const failure = error instanceof PostingFailed ? error : new PostingFailed(this.configuredPlace(channel), error)
        if (failure.threadGone && !recreated) {
          recreated = true
          context.logger.warn(
            { thread: failure.where },
            "the conversation's thread is gone or locked; starting a new one"
          )
          await context.state.delete(THREAD_KEY)
          progress = { message: key, place: '', done: 0, ids: [] }
          continue
        }
        return this.outcomeOf(failure.error, failure.where, context)
      }
    }
  }

  /** How errors name the place the config gives, before the conversation's own is known. */
  private configuredPlace(channel = this.settings.channel): string {
    return channel ? `channel ${channel}` : 'the webhook'
  }

  /** Posts the parts not yet accepted; a failure says where it happened (PostingFailed). */
  private async postParts(
    message: RelayMessage,
    parts: Part[],
    start: Progress,
    context: RunContext<PacerTurn>,
    channel: string | undefined
  ): Promise<Progress> {
    const found = await this.placeFor(message, parts, start, context, channel)
    const place = found.place
    let progress = found.progress
    for (let i = progress.done; i < parts.length; i++) {
      let id: string
      try {
        id = await this.post(place, parts[i]!, message, i, context.signal, context.turn)
        progress = { ...progress, done: i + 1, ids: [...progress.ids, id] }
        await context.state.set(PROGRESS_KEY, progress)
      } catch (error) {
        const code = apiCode(error)
        const gone = place.thread && (code === Code.UnknownChannel || code === Code.ArchivedThread)
        throw new PostingFailed(place.where, error, gone)
      }
    }
    return progress
  }

  /**
   * The conversation's place, made on its first message (a forum post is made with the first part)
   * in `channel`, the one chosen for the conversation (the webhook's own when undefined).
   */
  private async placeFor(
    message: RelayMessage,
    parts: Part[],
    progress: Progress,
    context: DeliveryContext,
    channel: string | undefined
  ): Promise<{ place: Place; progress: Progress }> {
    const { mode, webhook } = this.settings
    const { state, signal } = context
    const restart = (place: string): Progress =>
      progress.place === place ? progress : { message: progress.message, place, done: 0, ids: [] }
    if (mode === 'channel') {
      const id = webhook ? `webhook:${webhook.id}` : (channel ?? this.settings.channel!)
      const where = webhook ? this.configuredPlace() : `channel ${id}`
      return { place: { id, thread: false, where }, progress: restart(id) }
    }
    const known = await state.get<ThreadRecord>(THREAD_KEY)
    if (known)
      return { place: { id: known.id, thread: true, where: `thread ${known.id}` }, progress: restart(known.id) }

    const channelId = channel ?? (await this.channelId(signal))
    try {
      return await this.newPlace(message, parts, progress, context, channelId)
    } catch (error) {
      throw new PostingFailed(`channel ${channelId}`, error)
    }
  }

  /** Makes the conversation's thread or forum post in `channelId`, or finds the one an earlier attempt made. */
  private async newPlace(
    message: RelayMessage,
    parts: Part[],
    progress: Progress,
    context: DeliveryContext,
    channelId: string
  ): Promise<{ place: Place; progress: Progress }> {
    const { mode } = this.settings
    const { state, signal } = context
    const restart = (place: string): Progress =>
      progress.place === place ? progress : { message: progress.message, place, done: 0, ids: [] }
    const name = threadName(this.settings.threadName, message)
    const pending = await state.get<PendingThread>(PENDING_KEY)
    const orphan = pending ? await this.findOrphan(pending, channelId, context) : undefined
    let made: Progress
    if (orphan) {
      context.logger.info({ thread: orphan }, 'found the thread an earlier attempt created; using it')
      // A forum post carries the first part of the message it was made for.
      made =
        mode === 'forum' && pending!.message === progress.message
          ? { message: progress.message, place: orphan, done: 1, ids: [orphan] }
          : restart(orphan)
    } else {
      await state.set(PENDING_KEY, {
        name,
        at: this.init.clock.now(),
        message: progress.message
      } satisfies PendingThread)
      made =
        mode === 'thread'
          ? { message: progress.message, place: await this.startThread(channelId, name, signal), done: 0, ids: [] }
          : await this.startForumPost(channelId, name, parts[0]!, message, progress.message, signal)
    }
    await state.set(PROGRESS_KEY, made)
    await state.set(THREAD_KEY, { id: made.place, name } satisfies ThreadRecord)
    await state.delete(PENDING_KEY)
    return { place: { id: made.place, thread: true, where: `thread ${made.place}` }, progress: made }
  }

  private async startThread(channelId: string, name: string, signal: AbortSignal): Promise<string> {
    const channel = await this.infoOf(channelId).get(signal)
    // An announcement channel's threads are announcement threads.
    const type =
      channel.type === ChannelType.GuildAnnouncement ? ChannelType.AnnouncementThread : ChannelType.PublicThread
    const thread = await this.api.startThread(channelId, { name, type, ...this.archiveAfter() }, signal)
    return thread.id
  }

  private async startForumPost(
    channelId: string,
    name: string,
    first: Part,
    message: RelayMessage,
    key: string,
    signal: AbortSignal
  ): Promise<Progress> {
    // A desk part may bring its own allowed_mentions (the on-call role) and buttons.
    const body = { allowed_mentions: NO_PINGS, ...first }
    if (this.settings.webhook) {
      const posted = await this.api.executeWebhook(
        this.settings.webhook,
        { ...body, ...this.persona(message.type), thread_name: name },
        undefined,
        signal
      )
      return { message: key, place: posted.channel_id, done: 1, ids: [posted.id] }
    }
    const thread = await this.api.startForumPost(channelId, { name, message: body, ...this.archiveAfter() }, signal)
    // A forum post's first message has the post's id.
    return { message: key, place: thread.id, done: 1, ids: [thread.id] }
  }

  private archiveAfter(): { auto_archive_duration?: number } {
    const minutes = this.settings.autoArchiveMinutes
    return minutes === undefined ? {} : { auto_archive_duration: minutes }
  }

  private persona(type: MessageType): { username: string; avatar_url?: string } {
    const avatar = this.settings.avatars[type]
    return avatar
      ? { username: this.settings.names[type], avatar_url: avatar }
      : { username: this.settings.names[type] }
  }

  private async post(
    place: Place,
    part: Part,
    message: RelayMessage,
    index: number,
    signal: AbortSignal,
    turn: PacerTurn | undefined
  ): Promise<string> {
    const answered = await this.slot(place, message, signal, turn)
    try {
      return await this.send(place, part, message, index, signal)
    } finally {
      answered?.()
    }
  }

  private async send(
    place: Place,
    part: Part,
    message: RelayMessage,
    index: number,
    signal: AbortSignal
  ): Promise<string> {
    const body: MessageBody = { allowed_mentions: NO_PINGS, ...part }
    if (this.settings.webhook) {
      // Webhooks take no nonce: their retries rely on the progress kept in state alone.
      const posted = await this.api.executeWebhook(
        this.settings.webhook,
        { ...body, ...this.persona(message.type) },
        place.thread ? place.id : undefined,
        signal
      )
      return posted.id
    }
    const nonce = nonceFor(this.init.name, place.id, this.nonceHead.get(message) ?? message, index)
    const posted = await this.api.createMessage(place.id, { ...body, nonce, enforce_nonce: true }, signal)
    if (this.nonceHead.has(message)) this.answered.set(message, posted.content ?? '')
    return posted.id
  }

  /** Looks for a thread whose creation answer was lost; only unique names (with the conversation id) can be told apart. */
  private async findOrphan(
    pending: PendingThread,
    channelId: string,
    context: DeliveryContext
  ): Promise<string | undefined> {
    const { token, webhook, mode, threadName: template } = this.settings
    if (!token || (mode === 'forum' && webhook) || !template.includes('{conversationId}')) return undefined
    try {
      const channel = await this.infoOf(channelId).get(context.signal)
      const guildId = 'guild_id' in channel ? channel.guild_id : undefined
      if (!guildId) return undefined
      const [{ threads }, botId] = await Promise.all([
        this.api.activeThreads(guildId, context.signal),
        this.botId.get(context.signal)
      ])
      return orphanOf(threads, pending, channelId, botId)
    } catch (error) {
      // Not knowing could mean a second thread: only a permanent refusal of the lookup lets us go on without it.
      if (judge(error, `channel ${channelId}`).kind !== 'permanent') throw error
      context.logger.warn({ err: error }, 'could not look for a thread from an earlier attempt; making a new one')
      return undefined
    }
  }

  private outcomeOf(error: unknown, where: string, context: DeliveryContext): DeliveryOutcome {
    const trouble = judge(error, where)
    if (trouble.kind === 'transient') {
      context.logger.debug({ err: error }, trouble.reason)
      return retry(trouble.reason, trouble.retryAfterMs)
    }
    // The core holds every delivery of this relay and says so, once.
    if (trouble.kind === 'credentials') return held(`${this.init.name}: ${trouble.reason}`)
    if (this.reported.has(trouble.key)) {
      // The dispatcher logs each dead letter already.
      context.logger.debug(trouble.reason)
    } else {
      this.reported.add(trouble.key)
      // The reason says what to do, in one line; the SDK's error is detail. The relay's logger
      // carries `relay` already: a second one would repeat the key in the JSON line.
      this.init.logger.error({ problem: trouble.key }, `${this.init.name}: ${trouble.reason}`)
      this.init.logger.debug({ err: error }, `${this.init.name}: the refusal in full`)
    }
    return failed(`${this.init.name}: ${trouble.reason}`)
  }

  /** What Discord says of one of the channels, asked once. */
  private infoOf(channelId: string): Once<APIChannel> {
    if (channelId === this.settings.channel || this.settings.webhook) return this.channelInfo
    let info = this.channelInfos.get(channelId)
    if (!info) {
      info = new Once(signal => this.api.channel(channelId, signal))
      this.channelInfos.set(channelId, info)
    }
    return info
  }

  /** The configured channel, or the webhook's own. */
  private async channelId(signal?: AbortSignal): Promise<string> {
    if (this.settings.channel) return this.settings.channel
    const hook = await this.webhookInfo.get(signal)
    if (!hook.channel_id) throw new Error(`${this.init.name}: the webhook is not attached to a channel`)
    return hook.channel_id
  }

  async ready(): Promise<void> {
    const { name } = this.init
    const { webhook, token, mode, channel: configured } = this.settings
    const check = async <T>(what: string, call: () => Promise<T>): Promise<T> => {
      try {
        return await call()
      } catch (error) {
        throw new Error(`${name}: ${judge(error, what).reason}`, { cause: error })
      }
    }
    if (webhook) {
      const hook = await check('the webhook', () => this.api.webhookInfo(webhook))
      if (configured && hook.channel_id !== configured) {
        throw new Error(
          `${name}: webhookUrl posts into channel ${hook.channel_id}, but channel is ${configured}; use a webhook of channel ${configured}`
        )
      }
    }
    if (!token) return
    await check('the bot', () => this.api.me())
    const channelIds = webhook ? [await check('the webhook', () => this.channelId())] : this.settings.channels
    let guild: string | undefined
    for (const channelId of channelIds) {
      const channel = await check(`channel ${channelId}`, () => this.api.channel(channelId))
      const wanted: ChannelType[] =
        mode === 'forum' ? [ChannelType.GuildForum] : [ChannelType.GuildText, ChannelType.GuildAnnouncement]
      if (!wanted.includes(channel.type)) {
        const is = CHANNEL_TYPE_NAMES[channel.type] ?? `channel of type ${channel.type}`
        const needs = mode === 'forum' ? 'a forum channel' : 'a text or announcement channel'
        throw new Error(
          `${name}: channel ${channelId} is a ${is}, but mode "${mode}" needs ${needs}; change channel or mode`
        )
      }
      // Links to posts (and the desk) take the first channel's server: the others must be in it too.
      const of = 'guild_id' in channel ? channel.guild_id : undefined
      if (guild !== undefined && of !== guild)
        throw new Error(
          `${name}: channel ${channelId} is in another server than channel ${channelIds[0]}; give channels of one server`
        )
      guild ??= of
    }
  }

  async close(): Promise<void> {
    this.api.close()
  }
}
