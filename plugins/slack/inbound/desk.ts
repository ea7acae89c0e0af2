import type { HandoffEvent, RelayMessage } from '../../../src/message.js'
import { splitFlow } from '../../../src/markdown/split.js'
import {
  delivered,
  type DeliveryContext,
  type DeliveryOutcome,
  type HandoffDesk,
  type HandoffRef,
  type InboundRoute,
  type RelayInit
} from '../../../src/relays/types.js'
import type { SlackClient } from '../client.js'
import { fallbackText, messageFlow } from '../format.js'
import type { SlackSettings } from '../options.js'
import { fallbackLimit, postBlocks, type PostArguments } from '../payload.js'
import { rememberThread } from '../threads.js'
import { closedLine, historyOutputs, holdingLine, parentMessage, personOf, type ParentState } from './blocks.js'
import type { SlackHandoffOptions } from './options.js'
import { inboundRoutes } from './routes.js'

/** How far a handoff's thread got on Slack, kept in the lane's state so a retry resumes. */
interface DeskThread {
  parentTs: string
  /** History posts already made. */
  historyPosted: number
  /** What the parent shows besides the opening, to redraw it on claim and close. */
  parent: ParentState
  establish: Extract<HandoffEvent, { kind: 'establish' }>
  source: string
}

const stateKey = 'handoff'

export interface SlackDeskOptions {
  settings: SlackSettings
  handoff?: SlackHandoffOptions
  init: RelayInit & { desk: HandoffDesk }
  client: SlackClient
  /** Posts at the channel's pace; resolves to the new message's ts. */
  post(args: PostArguments, signal: AbortSignal): Promise<string>
  now(): number
}

/**
 * The Slack side of the handoff desk: a thread per handoff with its banner, history and buttons,
 * claim, close and receipts shown there; and, with `handoff.signingSecret`, the routes Slack calls
 * with the humans' replies and clicks.
 */
export function createSlackDesk(options: SlackDeskOptions) {
  const { settings, init, client, post } = options
  const { channel } = settings
  const desk = init.desk

  async function establish(
    message: RelayMessage,
    event: Extract<HandoffEvent, { kind: 'establish' }>,
    context: DeliveryContext
  ) {
    const ref: HandoffRef = { source: message.source, handoffId: event.handoffId }
    let thread = await context.state.get<DeskThread>(stateKey)
    // A new establish of the same handoff (GPTBots handed it over again) opens a new thread.
    if (
      thread &&
      thread.establish.handoffId === event.handoffId &&
      JSON.stringify(thread.establish) !== JSON.stringify(event)
    )
      thread = undefined
    if (!thread) {
      const parent = parentMessage(event, ref, {
        oncall: options.handoff?.oncall,
        relay: init.name,
        noteMarker: desk.noteMarker()
      })
      // The on-call group (<!subteam^ID>) is the only mention the relay makes, and only when configured.
      const parentTs = await post(parent as PostArguments, context.signal)
      thread = { parentTs, historyPosted: 0, parent: {}, establish: event, source: message.source }
      await context.state.set(stateKey, thread)
      await rememberThread(context.state, { channel, ts: parentTs })
      await desk.link(`${channel}:${parentTs}`, ref)
    }
    const history = { ...message, text: undefined, flowOutput: historyOutputs(event) }
    const parts = splitFlow(messageFlow(history, 'shown'), { chars: settings.maxPartLength, blocks: postBlocks })
    for (let index = thread.historyPosted; index < parts.length; index++) {
      const part = parts[index]!
      const blocks = part.segments.map(segment =>
        'block' in segment ? segment.block : { type: 'markdown', text: segment.text }
      ) as PostArguments['blocks']
      const heading = index === 0 ? 'The conversation so far: ' : ''
      await post(
        {
          text: `${heading}${fallbackText(part.plain || 'history', fallbackLimit - heading.length)}`,
          blocks,
          thread_ts: thread.parentTs
        },
        context.signal
      )
      thread = { ...thread, historyPosted: index + 1 }
      await context.state.set(stateKey, thread)
    }
    return delivered({ channel, threadTs: thread.parentTs, history: parts.length })
  }

  /** Redraws the parent (claimed, closed) and says what happened in the thread. */
  async function update(thread: DeskThread, change: ParentState, line: string, context: DeliveryContext) {
    const parentState = { ...thread.parent, ...change }
    // Redrawn without the on-call mention: an edit must not ping the group again.
    const redrawn = parentMessage(
      thread.establish,
      { source: thread.source, handoffId: thread.establish.handoffId },
      { relay: init.name, noteMarker: desk.noteMarker() },
      parentState
    )
    if (JSON.stringify(parentState) !== JSON.stringify(thread.parent)) {
      await client.apiCall('chat.update', { channel, ts: thread.parentTs, text: redrawn.text, blocks: redrawn.blocks })
      await context.state.set(stateKey, { ...thread, parent: parentState })
    }
    await post({ text: line, thread_ts: thread.parentTs }, context.signal)
  }

  async function deliver(message: RelayMessage, context: DeliveryContext): Promise<DeliveryOutcome | undefined> {
    const event = message.handoff
    if (!event || event.kind === 'chat') return undefined
    if (event.kind === 'establish') return establish(message, event, context)
    const thread = await context.state.get<DeskThread>(stateKey)
    if (event.kind === 'receipt') {
      const ref = event.ref as { channel?: string; ts?: string }
      if (ref.channel !== channel || typeof ref.ts !== 'string') return delivered({ skipped: 'not this channel' })
      await react(ref.ts, event.status === 'delivered' ? 'white_check_mark' : 'warning')
      if (event.status === 'dead' && thread) {
        await post(
          {
            text: `⚠️ A reply did not reach the user and is kept as a dead letter (an admin can replay it): ${fallbackText(event.error ?? 'unknown error', 2000)}`,
            thread_ts: thread.parentTs
          },
          context.signal
        )
      }
      return delivered({ channel, reaction: event.status })
    }
    // Claim and close of a handoff this relay never showed (it joined the desk later): nothing to show.
    if (!thread) return delivered({ skipped: 'no thread' })
    if (event.kind === 'holding') {
      const ts = await post(
        { text: holdingLine(message.text ?? '', event.afterMs), thread_ts: thread.parentTs },
        context.signal
      )
      return delivered({ channel, ts: [ts], holding: true })
    }
    if (event.kind === 'claim') {
      if (thread.parent.claimedBy || thread.parent.closed) return delivered({ channel, skipped: 'already shown' })
      await update(thread, { claimedBy: event.author }, `🙋 ${personOf(event.author)} claimed this handoff.`, context)
      return delivered({ channel, claimed: event.author.id })
    }
    if (event.kind === 'close') {
      if (thread.parent.closed) return delivered({ channel, skipped: 'already shown' })
      const line = closedLine(event)
      await update(thread, { closed: line }, `🔒 ${line}`, context)
      return delivered({ channel, closed: event.reason })
    }
    return delivered({ skipped: event.kind })
  }

  async function react(ts: string, name: string) {
    try {
      await client.apiCall('reactions.add', { channel, timestamp: ts, name })
    } catch (error) {
      // A retry after the reaction went through meets Slack's already_reacted: that is success.
      if ((error as { data?: { error?: string } }).data?.error !== 'already_reacted') throw error
    }
  }

  const routes: InboundRoute[] = options.handoff
    ? inboundRoutes({
        signingSecret: options.handoff.signingSecret,
        channel,
        desk,
        client,
        logger: init.logger,
        now: options.now
      })
    : []
  if (!options.handoff)
    init.logger.warn(
      `Slack relay ${init.name} is a handoff desk without handoff.signingSecret: handoffs show in Slack, but replies and buttons cannot reach the relay`
    )
  return { deliver, routes }
}
