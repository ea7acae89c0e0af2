import type { RelayMessage } from '../../src/message.js'
import {
  delivered,
  failed,
  held,
  retry,
  type DeliveryContext,
  type DeliveryOutcome,
  type Relay,
  type RelayInit
} from '../../src/relays/types.js'
import { slackClient } from './client.js'
import { AdminAlerts, slackFailure } from './errors.js'
import { splitFlow, type Post } from '../../src/markdown/split.js'
import { messageFlow } from './format.js'
import { slackSettings, type SlackOptions } from './options.js'
import { ChannelPacer, systemClock, type Clock } from './pace.js'
import { conversationMetadata, partArguments, postBlocks, titleArguments, type PostArguments } from './payload.js'
import { checkReadiness } from './readiness.js'
import { forgetThread, postedParts, rememberThread, threadFor } from './threads.js'
import { createSlackDesk } from './inbound/desk.js'

/** Thrown out of a delivery when its signal fired between two Slack calls. */
class DeliveryAborted extends Error {
  override name = 'AbortError'
}

/**
 * Builds a Slack relay. `clock` is for tests that need to move time (pacing, Retry-After);
 * everything else comes from the config entry.
 */
export function createSlackRelay(options: SlackOptions, init: RelayInit, clock: Clock = systemClock): Relay {
  const settings = slackSettings(options)
  const { channel } = settings
  const client = slackClient({ ...settings, logger: init.logger })
  const pacer = new ChannelPacer(clock, settings.pace.intervalMs, settings.pace.burst)
  const alerts = new AdminAlerts(init.logger, init.name)
  let closed = false

  /** Posts to the channel at the channel's pace; resolves to the new message's ts. */
  async function post(args: PostArguments, signal: AbortSignal): Promise<string> {
    // A post already sent is let finish: aborting it midway could leave it on Slack unrecorded.
    if (signal.aborted) throw new DeliveryAborted('aborted before posting')
    const answered = await pacer.take(channel, signal)
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
   * Posts the parts not yet posted, in order, into the conversation's thread (starting it when
   * there is none), and records each posted part before the next so that a retry resumes after it.
   */
  async function postParts(message: RelayMessage, parts: Post[], context: DeliveryContext): Promise<DeliveryOutcome> {
    const { state, signal } = context
    let thread = await threadFor(state, channel)
    const posted = postedParts(thread, message.messageId)
    if (!thread && settings.threadStart === 'title') {
      thread = { channel, ts: await post(titleArguments(settings, message, init.name), signal) }
      await rememberThread(state, thread)
    }
    for (let index = posted.length; index < parts.length; index++) {
      const args = partArguments(settings, message, parts[index] as Post, index)
      const ts = await post(thread ? { ...args, thread_ts: thread.ts } : withMetadata(args, message), signal)
      posted.push(ts)
      // In "message" mode the first part posted becomes the parent.
      thread = { channel, ts: thread?.ts ?? ts }
      if (posted.length < parts.length) thread.progress = { messageId: message.messageId, posted }
      await rememberThread(state, thread)
    }
    alerts.recovered()
    return delivered({ channel, threadTs: thread?.ts, ts: posted, parts: parts.length })
  }

  function withMetadata(args: PostArguments, message: RelayMessage): PostArguments {
    return { ...args, metadata: conversationMetadata(message, init.name) }
  }

  function outcomeOf(error: unknown, context: DeliveryContext): DeliveryOutcome {
    const failure = slackFailure(error, settings)
    if (!failure) throw new Error(`Slack relay ${init.name}: delivery failed unexpectedly`, { cause: error })
    switch (failure.kind) {
      case 'rate-limited':
        pacer.hold(channel, clock.now() + failure.retryAfterMs)
        return retry(failure.reason, failure.retryAfterMs)
      case 'held':
        return retry(failure.reason, failure.retryAfterMs)
      case 'permanent':
        alerts.report(failure.code, failure.reason)
        return failed(failure.reason)
      case 'credentials':
        // The core holds every delivery of this relay and says so, once.
        return held(failure.reason)
      case 'thread-gone':
      case 'transient':
        // The dispatcher logs the retry with this reason; a warning here would say it twice.
        context.logger.debug({ channel }, `Slack relay ${init.name}: ${failure.reason}`)
        return retry(failure.reason)
    }
  }

  // A desk relay (config handoff.relays) shows handoffs and takes the humans' replies (inbound/).
  const desk = init.desk
    ? createSlackDesk({
        settings,
        handoff: options.handoff,
        init: { ...init, desk: init.desk },
        client,
        post,
        now: clock.now
      })
    : undefined

  return {
    ...(desk && desk.routes.length > 0 ? { inbound: desk.routes } : {}),
    async deliver(message, context) {
      if (closed) return retry(`Slack relay ${init.name} is closed`)
      if (desk && message.handoff) {
        try {
          const outcome = await desk.deliver(message, context)
          if (outcome) return outcome
        } catch (error) {
          return outcomeOf(error, context)
        }
      }
      const parts = splitFlow(messageFlow(message, settings.flowOutput), {
        chars: settings.maxPartLength,
        blocks: postBlocks
      })
      if (parts.length === 0) return delivered({ channel, parts: 0 })
      try {
        return await postParts(message, parts, context)
      } catch (error) {
        if (slackFailure(error, settings)?.kind !== 'thread-gone') return outcomeOf(error, context)
        // The parent was deleted: start a new thread and post the whole message there, once.
        context.logger.warn({ channel }, `Slack relay ${init.name}: thread gone, starting a new one`)
        await forgetThread(context.state)
        try {
          return await postParts(message, parts, context)
        } catch (again) {
          return outcomeOf(again, context)
        }
      }
    },

    ready: () => checkReadiness(client, settings, init),

    async close() {
      closed = true
    }
  }
}
