import type { RelayMessage } from '../../src/message.js'
import {
  delivered,
  retry,
  type DeliveryContext,
  type BatchOutcome,
  type DeliveryOutcome,
  type Posted,
  type Relay,
  type RelayInit
} from '../../src/relays/types.js'
import { slackClient } from './client.js'
import { AdminAlerts, refused, slackFailure } from './errors.js'
import { splitFlow, type Post } from '../../src/markdown/split.js'
import { messageFlow } from './format.js'
import { slackSettings, type SlackOptions } from './options.js'
import { ChannelPacer, type Turn } from '../../src/relays/channel-pacer.js'
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

/** Thrown out of a delivery when its signal fired between two Slack calls. */
class DeliveryAborted extends Error {
  override name = 'AbortError'
}

/** Builds a Slack relay from its config entry; time (pacing, Retry-After) is read from `init.clock`. */
export function createSlackRelay(options: SlackOptions, init: RelayInit): Relay {
  const { clock } = init
  const settings = slackSettings(options)
  const client = slackClient({ ...settings, logger: init.logger })
  const pacer = new ChannelPacer(clock, settings.pace.intervalMs, settings.pace.burst)
  const alerts = new AdminAlerts(init.logger, init.name)
  const channels = new ChannelChoice(settings.channels, pacer)
  const lag = new ChannelLag()
  const workspace = new WorkspaceUrl(client)
  const lost = new LostPosts(client, init.logger, init.name)
  let closed = false

  /** Posts to the channel at the channel's pace, fairly among conversations; resolves to the new message's ts. */
  async function post(channel: string, args: PostArguments, signal: AbortSignal, turn: Turn): Promise<string> {
    // A post already sent is let finish: aborting it midway could leave it on Slack unrecorded.
    if (signal.aborted) throw new DeliveryAborted('aborted before posting')
    const answered = await pacer.slot(channel, signal, turn)
    let result
    try {
      if (signal.aborted) throw new DeliveryAborted('aborted before posting')
      // apiCall rather than chat.postMessage: the SDK's argument types forbid building the
      // arguments step by step (blocks, identity and thread are unions), and the fake checks them.
      result = await client.apiCall('chat.postMessage', { channel, parse: 'none', link_names: false, ...args })
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
  async function postGroup(
    channel: string,
    group: Group,
    context: DeliveryContext
  ): Promise<{ posted: Posted; holds?: string[] }> {
    const { state, signal } = context
    const head = group.messages[0] as RelayMessage
    const key = head.conversationId
    let thread = await threadFor(state, channel)
    const posted = postedParts(thread, head.messageId)
    const found = await lostPost(channel, thread, head, context)
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
      !thread && settings.threadStart === 'title' && pacer.busy(channel)
        ? titledArguments(settings, head, init.name, group.posts[0] as PostArguments)
        : undefined
    if (!thread && settings.threadStart === 'title' && !titled) {
      await noteParent(state, channel, { at: clock.now(), messageIds: [], part: 0 })
      const ts = await post(channel, titleArguments(settings, head, init.name), signal, { key, first: true }).catch(
        async (error: unknown) => {
          if (refused(error)) await forgetParentNote(state)
          throw error
        }
      )
      thread = { channel, ts }
      await rememberThread(state, thread)
    }
    for (let index = posted.length; index < group.posts.length; index++) {
      const part = { messageIds: group.messages.map(m => m.messageId), part: index }
      const metadata = conversationMetadata(head, init.name, part)
      const args = { ...(group.posts[index] as PostArguments), metadata }
      const parent = thread ? undefined : titled ? { ...titled, metadata } : args
      const note = { at: clock.now(), ...part }
      if (thread) await rememberThread(state, { ...thread, posting: note })
      else await noteParent(state, channel, note)
      const before = thread
      const ts = await post(channel, parent ?? { ...args, thread_ts: thread?.ts }, signal, {
        key,
        first: !thread
      }).catch(async (error: unknown) => {
        // Slack answered no: the post did not go, and the next attempt need not look for it.
        if (refused(error))
          await (before ? rememberThread(state, { ...before, posting: undefined }) : forgetParentNote(state))
        throw error
      })
      posted.push(ts)
      // In "message" mode the first post becomes the parent.
      thread = { channel, ts: thread?.ts ?? ts }
      if (posted.length < group.posts.length) thread.progress = { messageId: head.messageId, posted }
      await rememberThread(state, thread)
    }
    alerts.recovered()
    const link = slackPermalink(await workspace.get(), channel, posted[0], thread?.ts)
    const result: Posted = { channel, threadTs: thread?.ts, ts: posted, parts: group.posts.length, link }
    if (group.combined) result.combined = group.messages.length
    return holds ? { posted: result, holds } : { posted: result }
  }

  /**
   * When the conversation's last post was noted and never written down, looks for it on Slack:
   * the thread's parent in the channel (no thread recorded), or the reply in the thread. Only
   * then does the relay read Slack back; a missing scope makes it post again, as before.
   */
  async function lostPost(
    channel: string,
    thread: ConversationThread | undefined,
    head: RelayMessage,
    { state, signal }: DeliveryContext
  ): Promise<{ parent?: string; post?: FoundPost } | undefined> {
    const who = { relay: init.name, source: head.source, conversationId: head.conversationId }
    if (!thread) {
      const note = await notedParent(state, channel)
      if (!note) return undefined
      const parent = await lost.parent(channel, who, note.at, signal)
      if (!parent) return undefined
      return { parent: parent.ts, post: parent.messageIds[0] === head.messageId ? parent : undefined }
    }
    const note = thread.posting
    // A note of another message: that one failed for good (Slack refused it) and is settled.
    if (!note || note.messageIds[0] !== head.messageId) return undefined
    const post = await lost.reply(channel, thread.ts, who, head.messageId, note.part, note.at, signal)
    return { post }
  }

  /** Posts the group, starting a new thread once if Slack says the conversation's thread is gone. */
  async function deliverGroup(
    channel: string,
    group: Group,
    context: DeliveryContext
  ): Promise<{ posted: Posted; holds?: string[] }> {
    try {
      return await postGroup(channel, group, context)
    } catch (error) {
      if (slackFailure(error, { ...settings, channel })?.kind !== 'thread-gone') throw error
      // The parent was deleted: start a new thread and post the whole group there, once.
      context.logger.warn({ channel }, `Slack relay ${init.name}: thread gone, starting a new one`)
      await forgetThread(context.state)
      return await postGroup(channel, group, context)
    }
  }

  function partsOf(message: RelayMessage): Post[] {
    return splitFlow(messageFlow(message, settings.flowOutput), {
      chars: settings.maxPartLength,
      blocks: postBlocks,
      tables: 1
    })
  }

  function outcomeOf(
    channel: string,
    error: unknown,
    context: DeliveryContext
  ): Exclude<DeliveryOutcome, { status: 'delivered' }> {
    const failure = slackFailure(error, { ...settings, channel })
    if (!failure) throw new Error(`Slack relay ${init.name}: delivery failed unexpectedly`, { cause: error })
    switch (failure.kind) {
      case 'rate-limited':
        pacer.hold(channel, clock.now() + failure.retryAfterMs)
        return { status: 'retry', error: failure.reason, retryAfterMs: failure.retryAfterMs }
      case 'held':
        return { status: 'retry', error: failure.reason, retryAfterMs: failure.retryAfterMs }
      case 'permanent':
        alerts.report(failure.code, failure.reason)
        return { status: 'failed', error: failure.reason }
      case 'credentials':
        // The core holds every delivery of this relay and says so, once.
        return { status: 'held', error: failure.reason }
      case 'thread-gone':
      case 'transient':
        // The dispatcher logs the retry with this reason; a warning here would say it twice.
        context.logger.debug({ channel }, `Slack relay ${init.name}: ${failure.reason}`)
        return { status: 'retry', error: failure.reason }
    }
  }

  // A desk relay (config handoff.relays) shows handoffs in its first channel and takes the
  // humans' replies (inbound/).
  const desk = init.desk
    ? createSlackDesk({
        settings,
        handoff: options.handoff,
        init: { ...init, desk: init.desk },
        client,
        post: (args, signal) => post(settings.channel, args, signal, {}),
        now: clock.now
      })
    : undefined

  /** A handoff's message goes to the desk, one at a time; undefined when the desk leaves it to plain delivery. */
  async function deskDelivery(message: RelayMessage, context: DeliveryContext): Promise<DeliveryOutcome | undefined> {
    if (!desk || !message.handoff) return undefined
    if (closed) return retry(`Slack relay ${init.name} is closed`)
    try {
      return await desk.deliver(message, context)
    } catch (error) {
      return outcomeOf(settings.channel, error, context)
    }
  }

  const relay: Relay & { channelLag(): ReadonlyMap<string, number> } = {
    ...(desk && desk.routes.length > 0 ? { inbound: desk.routes } : {}),
    async deliver(message, context) {
      try {
        return (await deskDelivery(message, context)) ?? (await deliverOne(message, context))
      } finally {
        pacer.release(message.conversationId)
      }
    },

    async deliverBatch(messages, context) {
      const head = messages[0] as RelayMessage
      try {
        // Handoff threads (#17) are the desk's: their messages are never combined.
        if (desk && head.handoff) {
          const single = (await deskDelivery(head, context)) ?? (await deliverOne(head, context))
          return single.status === 'delivered' ? { delivered: [single.posted] } : { delivered: [], next: single }
        }
        return await deliverRun(messages, context)
      } finally {
        pacer.release(head.conversationId)
      }
    },

    /**
     * Waits for the conversation's next slot in its channel and keeps it for the delivery that
     * follows, so that the dispatcher reads the backlog when the post can go at once.
     */
    async awaitTurn(message, context) {
      if (closed) return
      const channel = await channels.of(context.state)
      const thread = await threadFor(context.state, channel)
      await pacer.reserve(channel, context.signal, { key: message.conversationId, first: !thread })
    },

    batchLimits: { maxMessages: postLimits.blocks / 2, maxChars: settings.maxPartLength },

    ready: async () => {
      for (const channel of settings.channels) await checkReadiness(client, { ...settings, channel }, init)
    },

    /** Per channel, when the oldest message offered and not yet posted was received: /metrics shows its age. */
    channelLag: () => lag.snapshot(),

    async close() {
      closed = true
    }
  }

  async function deliverOne(message: RelayMessage, context: DeliveryContext): Promise<DeliveryOutcome> {
    if (closed) return retry(`Slack relay ${init.name} is closed`)
    const channel = await channels.of(context.state)
    const parts = partsOf(message)
    if (parts.length === 0) return delivered({ channel, parts: 0 })
    lag.offered(channel, [message])
    try {
      const { posted } = await deliverGroup(
        channel,
        firstGroup(settings, [message], () => parts),
        context
      )
      const outcome = delivered(posted)
      lag.settled([message], 1)
      return outcome
    } catch (error) {
      const outcome = outcomeOf(channel, error, context)
      lag.settled([message], 0, outcome.status === 'failed')
      return outcome
    }
  }

  /**
   * Posts the first group of the backlog: the head and the messages after it that fit whole in
   * one post, or the head alone in its parts. The rest stays pending and is offered again, so
   * that each call takes one turn of the channel and messages that arrived meanwhile join the
   * next post.
   */
  async function deliverRun(messages: RelayMessage[], context: DeliveryContext): Promise<BatchOutcome> {
    if (closed)
      return {
        delivered: [],
        next: retry(`Slack relay ${init.name} is closed`) as Exclude<DeliveryOutcome, { status: 'delivered' }>
      }
    const channel = await channels.of(context.state)
    const rendered = new Map<RelayMessage, Post[]>()
    const parts = (message: RelayMessage) => {
      let found = rendered.get(message)
      if (!found) rendered.set(message, (found = partsOf(message)))
      return found
    }
    // Messages with nothing to show (a flow bot's hidden output) are delivered without a post.
    let empty = 0
    while (empty < messages.length && parts(messages[empty] as RelayMessage).length === 0) empty++
    if (empty > 0) return { delivered: Array.from({ length: empty }, () => ({ channel, parts: 0 })) }
    lag.offered(channel, messages)
    const group = firstGroup(settings, messages, parts)
    try {
      const { posted, holds } = await deliverGroup(channel, group, context)
      // A post found on Slack after a lost answer delivered the messages it holds, not the group's.
      const count = holds ? leading(messages, holds) : group.messages.length
      lag.settled(messages, count)
      return { delivered: messages.slice(0, count).map(() => posted) }
    } catch (error) {
      const next = outcomeOf(channel, error, context)
      lag.settled(messages, 0, next.status === 'failed')
      return { delivered: [], next }
    }
  }

  return relay
}

/** How many of `messages`, from the first, are among `ids`. */
function leading(messages: RelayMessage[], ids: string[]): number {
  let count = 0
  while (count < messages.length && ids.includes((messages[count] as RelayMessage).messageId)) count++
  return count
}
