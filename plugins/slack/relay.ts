import type { RelayMessage } from '../../src/message.js'
import { runOutcome } from '../../src/relays/run-adapter.js'
import {
  retry,
  type DeliveryContext,
  type DeliveryOutcome,
  type InboundRoute,
  type Posted,
  type RelayInit,
  type RunContext,
  type RunOutcome,
  type RunRelay,
  type Undelivered
} from '../../src/relays/types.js'
import { slackClient } from './client.js'
import { AdminAlerts, refused, slackFailure } from './errors.js'
import { splitFlow, type Post } from '../../src/markdown/split.js'
import { messageFlow } from './format.js'
import { slackSettings, type SlackOptions, type SlackSettings } from './options.js'
import { ChannelPacer, type PacerTurn, type Turn } from '../../src/relays/channel-pacer.js'
import { conversationMetadata, postBlocks, titleArguments, titledArguments, type PostArguments } from './payload.js'
import { firstGroup, postLimits, type Group } from './combine.js'
import { ChannelChoice } from '../../src/relays/channel-choice.js'
import { ChannelLag } from '../../src/relays/channel-lag.js'
import { slackPermalink, WorkspaceUrl } from './permalink.js'
import { checkReadiness } from './readiness.js'
import {
  forgetParentNote,
  forgetThread,
  notedParent,
  noteParent,
  postedParts,
  rememberThread,
  threadFor,
  type ConversationThread
} from './threads.js'
import { LostPosts, type FoundPost } from './recover.js'
import { createSlackDesk } from './inbound/desk.js'

type SlackDesk = ReturnType<typeof createSlackDesk>

/** Thrown out of a delivery when its signal fired between two Slack calls. */
class DeliveryAborted extends Error {
  override name = 'AbortError'
}

/**
 * The Slack relay: each conversation in a thread of its channel, posts paced per channel and
 * shared fairly among conversations, a busy conversation's messages combined into fewer posts.
 * Time (pacing, Retry-After) is read from `init.clock`.
 */
export class SlackRelay implements RunRelay<PacerTurn> {
  private readonly settings: SlackSettings
  private readonly client
  private readonly pacer: ChannelPacer
  private readonly alerts: AdminAlerts
  private readonly channels: ChannelChoice
  private readonly lag = new ChannelLag()
  private readonly workspace: WorkspaceUrl
  /** Looks on Slack for a post whose answer was lost (recover.ts). */
  private readonly lost: LostPosts
  /** The handoff desk, when the config's handoff.relays names this relay: it shows handoffs in the first channel. */
  private readonly desk?: SlackDesk
  private closed = false
  readonly inbound?: InboundRoute[]
  /** A run is the head and the messages after it that fit whole in one post. */
  readonly runLimits

  constructor(
    options: SlackOptions,
    private readonly init: RelayInit
  ) {
    this.settings = slackSettings(options)
    this.client = slackClient({ ...this.settings, logger: init.logger })
    this.pacer = new ChannelPacer(init.clock, this.settings.pace.intervalMs, this.settings.pace.burst)
    this.alerts = new AdminAlerts(init.logger, init.name)
    this.channels = new ChannelChoice(this.settings.channels, this.pacer)
    this.workspace = new WorkspaceUrl(this.client)
    this.lost = new LostPosts(this.client, init.logger, init.name)
    this.runLimits = { maxMessages: postLimits.blocks / 2, maxChars: this.settings.maxPartLength }
    if (init.desk) {
      this.desk = createSlackDesk({
        settings: this.settings,
        handoff: options.handoff,
        init: { ...init, desk: init.desk },
        client: this.client,
        post: (args, signal) => this.post(this.settings.channel, args, signal, {}),
        now: init.clock.now
      })
      if (this.desk.routes.length > 0) this.inbound = this.desk.routes
    }
  }

  /**
   * Posts the first group of the run: the head and the messages after it that fit whole in one
   * post, or the head alone in its parts. The rest stays pending and is offered again, so that
   * each call takes one turn of the channel and messages that arrived meanwhile join the next post.
   * A handoff's messages are the desk's, one at a time.
   */
  async deliverRun(messages: RelayMessage[], context: RunContext<PacerTurn>): Promise<RunOutcome> {
    const head = messages[0] as RelayMessage
    if (this.desk && head.handoff) {
      const outcome = await this.deskDelivery(this.desk, head, context)
      // A handoff's chat is posted as any message, but alone: its thread is the desk's.
      return outcome ? runOutcome(outcome) : this.postRun([head], context)
    }
    return this.postRun(messages, context)
  }

  /** The group at the run's head, posted (see deliverRun). */
  private async postRun(messages: RelayMessage[], context: RunContext<PacerTurn>): Promise<RunOutcome> {
    if (this.closed) return { delivered: [], next: retry(`Slack relay ${this.init.name} is closed`) as Undelivered }
    const channel = await this.channels.of(context.state)
    const rendered = new Map<RelayMessage, Post[]>()
    const parts = (message: RelayMessage) => {
      let found = rendered.get(message)
      if (!found) rendered.set(message, (found = this.partsOf(message)))
      return found
    }
    // Messages with nothing to show (a flow bot's hidden output) are delivered without a post.
    let empty = 0
    while (empty < messages.length && parts(messages[empty] as RelayMessage).length === 0) empty++
    if (empty > 0) return { delivered: Array.from({ length: empty }, () => ({ channel, parts: 0 })) }
    this.lag.offered(channel, messages)
    const group = firstGroup(this.settings, messages, parts)
    try {
      const { posted, holds } = await this.deliverGroup(channel, group, context)
      // A post found on Slack after a lost answer delivered the messages it holds, not the group's.
      const count = holds ? leading(messages, holds) : group.messages.length
      this.lag.settled(messages, count)
      return { delivered: messages.slice(0, count).map(() => posted) }
    } catch (error) {
      const next = this.outcomeOf(channel, error, context)
      this.lag.settled(messages, 0, next.status === 'failed')
      return { delivered: [], next }
    }
  }

  /**
   * Waits for the conversation's next slot in its channel, for the run that follows: the core then
   * reads the backlog when the post can go at once. The desk's handoff posts take no turns.
   */
  async takeTurn(message: RelayMessage, context: DeliveryContext): Promise<PacerTurn | undefined> {
    if (this.closed || (this.desk && message.handoff)) return undefined
    const channel = await this.channels.of(context.state)
    const thread = await threadFor(context.state, channel)
    return this.pacer.turn(channel, context.signal, { key: message.conversationId, first: !thread })
  }

  async ready(): Promise<void> {
    for (const channel of this.settings.channels)
      await checkReadiness(this.client, { ...this.settings, channel }, this.init)
  }

  /** Per channel, when the oldest message offered and not yet posted was received: /metrics shows its age. */
  channelLag(): ReadonlyMap<string, number> {
    return this.lag.snapshot()
  }

  async close(): Promise<void> {
    this.closed = true
  }

  /** A handoff's message, through the desk; undefined when the desk leaves it to plain delivery. */
  private async deskDelivery(
    desk: SlackDesk,
    message: RelayMessage,
    context: DeliveryContext
  ): Promise<DeliveryOutcome | undefined> {
    if (this.closed) return retry(`Slack relay ${this.init.name} is closed`)
    try {
      return await desk.deliver(message, context)
    } catch (error) {
      return this.outcomeOf(this.settings.channel, error, context)
    }
  }

  /**
   * Posts to the channel at the channel's pace, fairly among conversations, in the slot of the
   * run's turn when it has one for this channel; resolves to the new message's ts.
   */
  private async post(
    channel: string,
    args: PostArguments,
    signal: AbortSignal,
    turn: Turn,
    taken?: PacerTurn
  ): Promise<string> {
    // A post already sent is let finish: aborting it midway could leave it on Slack unrecorded.
    if (signal.aborted) throw new DeliveryAborted('aborted before posting')
    const answered = taken?.use(channel) ?? (await this.pacer.take(channel, signal, turn))
    let result
    try {
      if (signal.aborted) throw new DeliveryAborted('aborted before posting')
      // apiCall rather than chat.postMessage: the SDK's argument types forbid building the
      // arguments step by step (blocks, identity and thread are unions), and the fake checks them.
      result = await this.client.apiCall('chat.postMessage', { channel, parse: 'none', link_names: false, ...args })
    } finally {
      answered()
    }
    if (!('ts' in result) || typeof result.ts !== 'string') {
      throw new Error(`Slack accepted a message in ${channel} but returned no ts`)
    }
    return result.ts
  }

  /**
   * Posts a group's posts not yet posted, in order, into the conversation's thread (starting it
   * when there is none), and records each posted part of a message before the next so that a
   * retry resumes after it. Each post is noted before it is made: a note left behind (a crash, a
   * lost answer) makes the next delivery look for the post on Slack first (recover.ts). Resolves
   * to what was posted, and, when the post was found there, the ids of the messages it holds.
   */
  private async postGroup(
    channel: string,
    group: Group,
    context: RunContext<PacerTurn>
  ): Promise<{ posted: Posted; holds?: string[] }> {
    const { state, signal, turn: taken } = context
    const { settings, init } = this
    const head = group.messages[0] as RelayMessage
    const key = head.conversationId
    let thread = await threadFor(state, channel)
    const posted = postedParts(thread, head.messageId)
    const found = await this.lostPost(channel, thread, head, context)
    let holds: string[] | undefined
    if (found) {
      thread = { ...thread, channel, ts: found.parent ?? (thread as ConversationThread).ts, posting: undefined }
      if (found.post && found.post.part === posted.length) {
        posted.push(found.post.ts)
        if (group.posts.length === 1) holds = found.post.messageIds
      }
      if (posted.length > 0 && posted.length < group.posts.length)
        thread.progress = { messageId: head.messageId, posted }
      await rememberThread(state, thread)
    }
    // In "title" mode the parent names the conversation. When the channel is busy, the title and
    // the first post share the parent: a new conversation then costs one post of the channel, not two.
    const titled =
      !thread && settings.threadStart === 'title' && this.pacer.busy(channel)
        ? titledArguments(settings, head, init.name, group.posts[0] as PostArguments)
        : undefined
    if (!thread && settings.threadStart === 'title' && !titled) {
      await noteParent(state, channel, { at: init.clock.now(), messageIds: [], part: 0 })
      const title = titleArguments(settings, head, init.name)
      const ts = await this.post(channel, title, signal, { key, first: true }, taken).catch(async (error: unknown) => {
        if (refused(error)) await forgetParentNote(state)
        throw error
      })
      thread = { channel, ts }
      await rememberThread(state, thread)
    }
    for (let index = posted.length; index < group.posts.length; index++) {
      const part = { messageIds: group.messages.map(m => m.messageId), part: index }
      const metadata = conversationMetadata(head, init.name, part)
      const args = { ...(group.posts[index] as PostArguments), metadata }
      const parent = thread ? undefined : titled ? { ...titled, metadata } : args
      const note = { at: init.clock.now(), ...part }
      if (thread) await rememberThread(state, { ...thread, posting: note })
      else await noteParent(state, channel, note)
      const turn = { key, first: !thread }
      const before = thread
      const ts = await this.post(channel, parent ?? { ...args, thread_ts: thread?.ts }, signal, turn, taken).catch(
        async (error: unknown) => {
          // Slack answered no: the post did not go, and the next attempt need not look for it.
          if (refused(error))
            await (before ? rememberThread(state, { ...before, posting: undefined }) : forgetParentNote(state))
          throw error
        }
      )
      posted.push(ts)
      // In "message" mode the first post becomes the parent.
      thread = { channel, ts: thread?.ts ?? ts }
      if (posted.length < group.posts.length) thread.progress = { messageId: head.messageId, posted }
      await rememberThread(state, thread)
    }
    this.alerts.recovered()
    const link = slackPermalink(await this.workspace.get(), channel, posted[0], thread?.ts)
    const result: Posted = { channel, threadTs: thread?.ts, ts: posted, parts: group.posts.length, link }
    if (group.combined) result.combined = group.messages.length
    return holds ? { posted: result, holds } : { posted: result }
  }

  /**
   * When the conversation's last post was noted and never written down, looks for it on Slack:
   * the thread's parent in the channel (no thread recorded), or the reply in the thread. Only
   * then does the relay read Slack back; a missing scope makes it post again, as before.
   */
  private async lostPost(
    channel: string,
    thread: ConversationThread | undefined,
    head: RelayMessage,
    { state, signal }: DeliveryContext
  ): Promise<{ parent?: string; post?: FoundPost } | undefined> {
    const who = { relay: this.init.name, source: head.source, conversationId: head.conversationId }
    if (!thread) {
      const note = await notedParent(state, channel)
      if (!note) return undefined
      const parent = await this.lost.parent(channel, who, note.at, signal)
      if (!parent) return undefined
      return { parent: parent.ts, post: parent.messageIds[0] === head.messageId ? parent : undefined }
    }
    const note = thread.posting
    // A note of another message: that one failed for good (Slack refused it) and is settled.
    if (!note || note.messageIds[0] !== head.messageId) return undefined
    const post = await this.lost.reply(channel, thread.ts, who, head.messageId, note.part, note.at, signal)
    return { post }
  }

  /** Posts the group, starting a new thread once if Slack says the conversation's thread is gone. */
  private async deliverGroup(
    channel: string,
    group: Group,
    context: RunContext<PacerTurn>
  ): Promise<{ posted: Posted; holds?: string[] }> {
    try {
      return await this.postGroup(channel, group, context)
    } catch (error) {
      if (slackFailure(error, { ...this.settings, channel })?.kind !== 'thread-gone') throw error
      // The parent was deleted: start a new thread and post the whole group there, once.
      context.logger.warn({ channel }, `Slack relay ${this.init.name}: thread gone, starting a new one`)
      await forgetThread(context.state)
      return await this.postGroup(channel, group, context)
    }
  }

  private partsOf(message: RelayMessage): Post[] {
    return splitFlow(messageFlow(message, this.settings.flowOutput), {
      chars: this.settings.maxPartLength,
      blocks: postBlocks,
      tables: 1
    })
  }

  private outcomeOf(channel: string, error: unknown, context: DeliveryContext): Undelivered {
    const failure = slackFailure(error, { ...this.settings, channel })
    if (!failure) throw new Error(`Slack relay ${this.init.name}: delivery failed unexpectedly`, { cause: error })
    switch (failure.kind) {
      case 'rate-limited':
        this.pacer.hold(channel, this.init.clock.now() + failure.retryAfterMs)
        return { status: 'retry', error: failure.reason, retryAfterMs: failure.retryAfterMs }
      case 'held':
        return { status: 'retry', error: failure.reason, retryAfterMs: failure.retryAfterMs }
      case 'permanent':
        this.alerts.report(failure.code, failure.reason)
        return { status: 'failed', error: failure.reason }
      case 'credentials':
        // The core holds every delivery of this relay and says so, once.
        return { status: 'held', error: failure.reason }
      case 'thread-gone':
      case 'transient':
        // The dispatcher logs the retry with this reason; a warning here would say it twice.
        context.logger.debug({ channel }, `Slack relay ${this.init.name}: ${failure.reason}`)
        return { status: 'retry', error: failure.reason }
    }
  }
}

/** Builds a Slack relay from its config entry. */
export function createSlackRelay(options: SlackOptions, init: RelayInit): SlackRelay {
  return new SlackRelay(options, init)
}

/** How many of `messages`, from the first, are among `ids`. */
function leading(messages: RelayMessage[], ids: string[]): number {
  let count = 0
  while (count < messages.length && ids.includes((messages[count] as RelayMessage).messageId)) count++
  return count
}
