import type {
  HandoffDesk,
  InboundAnswer,
  InboundRequest,
  InboundRoute,
  RelayLogger
} from '../../../src/relays/types.js'
import { Errors } from '../../../src/errors.js'
import type { SlackClient } from '../client.js'
import { claimAction, closeAction, personOf } from './blocks.js'
import { verifySlackSignature } from './signature.js'
import { plainFromSlack } from './text.js'

export interface RouteOptions {
  signingSecret: string
  channel: string
  desk: HandoffDesk
  client: SlackClient
  logger: RelayLogger
  now(): number
}

const header = (request: InboundRequest, name: string): string | undefined => {
  const value = request.headers[name]
  return Array.isArray(value) ? value[0] : value
}

const refusal = (
  code: 'SIGNATURE_MISSING' | 'SIGNATURE_INVALID' | 'SIGNATURE_STALE' | 'BODY_NOT_JSON'
): InboundAnswer => ({
  status: Errors[code].status,
  headers: { 'x-relay-error': code },
  body: { code: Errors[code].status, msg: Errors[code].message }
})

/** Slack wants a 200 and nothing else for what the relay takes or ignores. */
const ok: InboundAnswer = { status: 200, body: '' }

interface MessageEvent {
  type?: string
  subtype?: string
  bot_id?: string
  app_id?: string
  user?: string
  channel?: string
  text?: string
  ts?: string
  thread_ts?: string
}

/** A person's reply in a thread of the desk's channel: no subtype (edits, joins, bot posts), no bot. */
function isHumanThreadReply(
  event: MessageEvent | undefined,
  channel: string
): event is Required<Pick<MessageEvent, 'user' | 'ts' | 'thread_ts' | 'channel'>> & MessageEvent {
  return (
    event?.type === 'message' &&
    event.subtype === undefined &&
    event.bot_id === undefined &&
    typeof event.user === 'string' &&
    event.channel === channel &&
    typeof event.ts === 'string' &&
    typeof event.thread_ts === 'string' &&
    event.thread_ts !== event.ts
  )
}

/**
 * Slack's Events API and interactivity routes of one Slack relay: `events` (replies typed in a
 * handoff's thread) and `interactivity` (Claim and Close). Both are verified with the signing
 * secret over the raw body; what they carry is stored by the desk before Slack gets its 200.
 */
export function inboundRoutes(options: RouteOptions): InboundRoute[] {
  const { desk, channel, client, logger } = options

  function verify(request: InboundRequest): InboundAnswer | undefined {
    const check = verifySlackSignature({
      signingSecret: options.signingSecret,
      timestamp: header(request, 'x-slack-request-timestamp'),
      signature: header(request, 'x-slack-signature'),
      rawBody: request.rawBody,
      nowMs: options.now()
    })
    if (check.ok) return undefined
    logger.warn({ reason: check.reason }, 'Slack request refused: its signature does not check out')
    return refusal(
      check.reason === 'missing'
        ? 'SIGNATURE_MISSING'
        : check.reason === 'stale'
          ? 'SIGNATURE_STALE'
          : 'SIGNATURE_INVALID'
    )
  }

  /** Tells one person, and only them, why what they did had no effect. Best effort: Slack was answered already. */
  function tell(user: string, text: string, threadTs?: string): void {
    client
      .apiCall('chat.postEphemeral', { channel, user, text, ...(threadTs ? { thread_ts: threadTs } : {}) })
      .catch((error: unknown) =>
        logger.warn({ err: error, user }, 'could not tell a person why their action had no effect')
      )
  }

  const events: InboundRoute = {
    path: 'events',
    async handle(request) {
      const refused = verify(request)
      if (refused) return refused
      let body: { type?: string; challenge?: string; event_id?: string; event?: MessageEvent }
      try {
        body = JSON.parse(request.rawBody.toString('utf8'))
      } catch {
        return refusal('BODY_NOT_JSON')
      }
      if (body.type === 'url_verification') return { status: 200, body: { challenge: String(body.challenge ?? '') } }
      const event = body.event
      if (body.type !== 'event_callback' || !isHumanThreadReply(event, channel)) return ok
      const ref = await desk.find(`${channel}:${event.thread_ts}`)
      if (!ref) return ok
      const text = plainFromSlack(event.text ?? '').trim()
      if (text === '') return ok
      // Stored before Slack hears back; a retried event (same ts) is recognised as a repeat.
      const answer = await desk.reply({
        ...ref,
        replyId: `${channel}:${event.ts}`,
        text,
        author: { id: event.user },
        ref: { channel, ts: event.ts, threadTs: event.thread_ts }
      })
      logger.info(
        { handoffId: ref.handoffId, eventId: body.event_id, status: answer.status },
        'handoff reply from Slack'
      )
      if (answer.status === 'closed' && header(request, 'x-slack-retry-num') === undefined) {
        tell(event.user, 'This handoff is closed, so your reply was not sent to the user.', event.thread_ts)
      } else if (answer.status === 'unknown' && header(request, 'x-slack-retry-num') === undefined) {
        tell(event.user, 'The relay does not know this handoff any more, so your reply was not sent.', event.thread_ts)
      }
      return ok
    }
  }

  const interactivity: InboundRoute = {
    path: 'interactivity',
    async handle(request) {
      const refused = verify(request)
      if (refused) return refused
      let payload: {
        type?: string
        user?: { id?: string; name?: string; username?: string }
        channel?: { id?: string }
        message?: { ts?: string }
        actions?: { action_id?: string; value?: string }[]
      }
      try {
        payload = JSON.parse(new URLSearchParams(request.rawBody.toString('utf8')).get('payload') ?? '')
      } catch {
        return refusal('BODY_NOT_JSON')
      }
      const action = payload.actions?.[0]
      const user = payload.user?.id
      if (payload.type !== 'block_actions' || payload.channel?.id !== channel || !action || !user) return ok
      if (action.action_id !== claimAction && action.action_id !== closeAction) return ok
      let ref: { source: string; handoffId: string }
      try {
        ref = JSON.parse(action.value ?? '')
        if (typeof ref.source !== 'string' || typeof ref.handoffId !== 'string') return ok
      } catch {
        return ok
      }
      const author = { id: user, name: payload.user?.name ?? payload.user?.username ?? user }
      const threadTs = payload.message?.ts
      if (action.action_id === claimAction) {
        const answer = await desk.claim({ ...ref, author })
        if (answer.status === 'duplicate') {
          const record = await desk.record(ref)
          tell(
            user,
            `This handoff is already claimed${record?.claimedBy ? ` by ${personOf(record.claimedBy)}` : ''}.`,
            threadTs
          )
        } else if (answer.status === 'closed') tell(user, 'This handoff is already closed.', threadTs)
        return ok
      }
      const answer = await desk.close({ ...ref, author })
      if (answer.status === 'closed') tell(user, 'This handoff is already closed.', threadTs)
      logger.info({ handoffId: ref.handoffId, user, status: answer.status }, 'handoff closed from Slack')
      return ok
    }
  }

  return [events, interactivity]
}
