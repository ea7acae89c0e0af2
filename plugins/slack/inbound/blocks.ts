import type { DeskAuthor, HandoffEvent } from '../../../src/message.js'
import type { HandoffRef } from '../../../src/relays/types.js'
import { escapeMrkdwn, neutraliseMentions, truncate } from '../format.js'

export const claimAction = 'gptbots_handoff_claim'
export const closeAction = 'gptbots_handoff_close'

type Establish = Extract<HandoffEvent, { kind: 'establish' }>
type Block = Record<string, unknown>

/** Someone else's text as mrkdwn that shows as written and can notify no one. */
const shown = (text: string, limit: number): string => truncate(escapeMrkdwn(neutraliseMentions(text)), limit)

/** A person on the desk, by name as text: never a mention, which would notify them. */
export const personOf = (author: DeskAuthor): string => `*${shown(author.name || author.id, 200)}*`

const userInfoLabels: Record<string, string> = {
  user_id: 'User id',
  anonymous_id: 'Anonymous id',
  email: 'Email',
  phone: 'Phone'
}

/** The buttons' value: which handoff they act on. */
export const buttonValue = (ref: HandoffRef): string => JSON.stringify({ source: ref.source, handoffId: ref.handoffId })

function buttons(ref: HandoffRef, claim: boolean): Block {
  const close = {
    type: 'button',
    action_id: closeAction,
    text: { type: 'plain_text', text: 'Close' },
    style: 'danger',
    value: buttonValue(ref)
  }
  const elements = claim
    ? [
        {
          type: 'button',
          action_id: claimAction,
          text: { type: 'plain_text', text: 'Claim' },
          style: 'primary',
          value: buttonValue(ref)
        },
        close
      ]
    : [close]
  return { type: 'actions', block_id: 'gptbots_handoff_actions', elements }
}

export interface ParentState {
  claimedBy?: DeskAuthor
  closed?: string
}

/** The handoff's parent message: the banner, who the user is, where it came from, and the buttons while open. */
export function parentMessage(
  event: Establish,
  ref: HandoffRef,
  options: { oncall?: string; relay: string; noteMarker: string },
  state: ParentState = {}
): { text: string; blocks: Block[]; metadata: { event_type: string; event_payload: Record<string, string> } } {
  const who = Object.entries(event.userInfo)
    .filter(([key]) => key in userInfoLabels)
    .map(([key, value]) => ({ type: 'mrkdwn', text: `*${userInfoLabels[key]}*\n${shown(value, 1900)}` }))
  if (event.email) who.push({ type: 'mrkdwn', text: `*Bot owner*\n${shown(event.email, 1900)}` })
  const mention = options.oncall ? `<!subteam^${options.oncall}> ` : ''
  const blocks: Block[] = [
    { type: 'header', text: { type: 'plain_text', text: '🙋 A human is needed' } },
    {
      type: 'section',
      text: {
        type: 'mrkdwn',
        text: `${mention}A GPTBots user asked for a person. *Reply in this thread* to answer them; each reply that reaches them gets a ✅.${
          options.noteMarker
            ? ` Start a reply with \`${shown(options.noteMarker, 20)}\` to keep it as an internal note: it stays here and never reaches the user.`
            : ''
        }`
      }
    }
  ]
  if (who.length > 0) blocks.push({ type: 'section', fields: who.slice(0, 10) })
  const context = [`Handoff \`${shown(ref.handoffId, 200)}\``, `source ${shown(ref.source, 100)}`]
  if (event.botId) context.push(`bot \`${shown(event.botId, 200)}\``)
  blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: context.join(' · ') }] })
  if (state.claimedBy)
    blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `Claimed by ${personOf(state.claimedBy)}` }] })
  if (state.closed) blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `🔒 ${state.closed}` }] })
  else blocks.push(buttons(ref, !state.claimedBy))
  return {
    text: `${mention}A human is needed: GPTBots handoff ${shown(ref.handoffId, 200)}`,
    blocks,
    metadata: {
      event_type: 'gptbots_handoff',
      event_payload: { handoff_id: ref.handoffId, source: ref.source, relay: options.relay }
    }
  }
}

/** Why the handoff ended, in a line. */
export function closedLine(event: Extract<HandoffEvent, { kind: 'close' }>): string {
  switch (event.reason) {
    case 'TIMEOUT':
      return 'Closed by GPTBots: the handoff timed out. Replies here are no longer sent.'
    case 'USER_CLOSED':
      return 'Closed: the user left the chat. Replies here are no longer sent.'
    case 'AGENT':
      return `Closed by ${event.author ? personOf(event.author) : 'the desk'}. Replies here are no longer sent.`
  }
}

/** The holding reply, as the thread shows it. */
export const holdingLine = (text: string, afterMs: number): string =>
  `⏳ No one had answered ${Math.round(afterMs / 1000)} s after the handoff opened, so the user is sent the holding reply:\n>${shown(text, 3000).replace(/\n/g, '\n>')}`

/** The conversation so far as flow outputs, one per speaker's turn, so they show labelled and in order. */
export function historyOutputs(event: Establish) {
  return event.history
    .filter(turn => turn.text.trim() !== '')
    .map(turn => ({ content: turn.text, componentName: turn.type === 'QUESTION' ? 'User' : 'Bot', audio: [] }))
}
