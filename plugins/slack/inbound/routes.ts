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

/**
 * Slack's events are a few kilobytes; the largest is a message at Slack's 40,000-character limit,
 * sent twice (text and rich-text blocks) as multi-byte UTF-8.
 */
const eventsBodyLimit = 512 * 1024
/** A button's payload carries the desk's own banner, which is small. */
const interactivityBodyLimit = 128 * 1024

/** Slack wants a 200 and nothing else for what the relay takes or ignores. */
const ok: InboundAnswer = { status: 200, body: '' }

/** A file attached to a message, as Slack's events carry it. */
interface SlackFile {
  name?: string
  title?: string
  permalink?: string
  permalink_public?: string
  public_url_shared?: boolean
  mode?: string
}

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
  files?: SlackFile[]
  edited?: unknown
  /** On message_changed: the message as it is now, and as it was. */
  message?: MessageEvent
  previous_message?: MessageEvent
}

/**
 * The subtypes of a post a person typed: a plain reply, one also sent to the channel, one with
 * files, and a `/me` line. Every other subtype is Slack's or an app's (bot_message, joins, topic
 * changes) or a change to an earlier post (message_changed, message_deleted), never a new reply.
 */
const personPosts = new Set<string | undefined>([undefined, 'thread_broadcast', 'file_share', 'me_message'])

type ThreadPost = Required<Pick<MessageEvent, 'user' | 'ts' | 'thread_ts'>> & MessageEvent

/** A person's post in a thread of the desk's channel (not the thread's parent, not an app's). */
function isPersonThreadPost(event: MessageEvent | undefined, channel: string): event is ThreadPost {
  return (
    event?.type === 'message' &&
    personPosts.has(event.subtype) &&
    event.bot_id === undefined &&
    typeof event.user === 'string' &&
    event.channel === channel &&
    typeof event.ts === 'string' &&
    typeof event.thread_ts === 'string' &&
    event.thread_ts !== event.ts
  )
}

/** A person's earlier thread reply, edited or deleted: what the relay cannot send after it. */
function changedThreadPost(
  event: MessageEvent | undefined,
  channel: string
): { change: 'edited' | 'deleted'; post: ThreadPost } | undefined {
  if (event?.type !== 'message' || event.channel !== channel) return undefined
  const post =
    event.subtype === 'message_changed'
      ? event.message
      : event.subtype === 'message_deleted'
        ? event.previous_message
        : undefined
  if (
    !post ||
    post.bot_id !== undefined ||
    typeof post.user !== 'string' ||
    typeof post.ts !== 'string' ||
    typeof post.thread_ts !== 'string' ||
    post.thread_ts === post.ts
  )
    return undefined
  if (event.subtype === 'message_deleted') return { change: 'deleted', post: post as ThreadPost }
  // Slack also sends message_changed when it adds a link preview: only a change of the words counts.
  if (post.edited === undefined || post.text === event.previous_message?.text) return undefined
  return { change: 'edited', post: post as ThreadPost }
}

/**
 * A reply's files as lines of links: the public link when the file was shared publicly (anyone
 * can open it), else its Slack link, which opens only for members of the workspace.
 */
export function fileLinks(files: readonly SlackFile[]): { lines: string[]; privateNames: string[]; missing: string[] } {
  const lines: string[] = []
  const privateNames: string[] = []
  const missing: string[] = []
  for (const file of files) {
    const name = (file.name || file.title || 'file').replace(/\s+/g, ' ')
    const publicLink = file.public_url_shared === true ? file.permalink_public : undefined
    const link = publicLink ?? file.permalink
    if (!link || file.mode === 'tombstone' || file.mode === 'hidden_by_limit') {
      missing.push(name)
      continue
    }
    if (!publicLink) privateNames.push(name)
    lines.push(`${name}: ${link}`)
  }
  return { lines, privateNames, missing }
}

/** The reaction that marks an internal note (📝). */
export const noteReaction = 'memo'

const listed = (names: string[]): string => names.map(name => `"${name}"`).join(', ')

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

  /** Marks a post with a reaction. Best effort, like `tell`: an already_reacted is what was wanted. */
  function mark(ts: string, name: string): void {
    client.apiCall('reactions.add', { channel, timestamp: ts, name }).catch((error: unknown) => {
      if ((error as { data?: { error?: string } }).data?.error !== 'already_reacted')
        logger.warn({ err: error, ts }, `could not mark a post with :${name}:`)
    })
  }

  const events: InboundRoute = {
    path: 'events',
    bodyLimit: eventsBodyLimit,
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
      if (body.type !== 'event_callback') return ok
      // Slack's retries of an event are acted on again (the store knows a repeat) but tell no one twice.
      const firstTry = header(request, 'x-slack-retry-num') === undefined
      const event = body.event
      const changed = changedThreadPost(event, channel)
      if (changed) {
        if (firstTry && (await desk.find(`${channel}:${changed.post.thread_ts}`)))
          tell(
            changed.post.user,
            changed.change === 'edited'
              ? 'Edits are not sent: the user keeps the reply as it was first sent. Send a new reply to correct it.'
              : 'Deleting a reply here does not take it back: if it was sent, the user has it.',
            changed.post.thread_ts
          )
        return ok
      }
      if (!isPersonThreadPost(event, channel)) return ok
      const ref = await desk.find(`${channel}:${event.thread_ts}`)
      if (!ref) return ok
      const files = fileLinks(event.files ?? [])
      const text = [plainFromSlack(event.text ?? '').trim(), ...files.lines].filter(line => line !== '').join('\n')
      if (text === '') {
        if (firstTry && files.missing.length > 0)
          tell(event.user, `Not sent: Slack gives no link to ${listed(files.missing)}.`, event.thread_ts)
        return ok
      }
      // Stored before Slack hears back; a retried event (same ts) is recognised as a repeat.
      const answer = await desk.reply({
        ...ref,
        replyId: `${channel}:${event.ts}`,
        text,
        author: { id: event.user },
        ref: { channel, ts: event.ts, threadTs: event.thread_ts }
      })
      logger.info(
        { handoffId: ref.handoffId, eventId: body.event_id, subtype: event.subtype, status: answer.status },
        'handoff reply from Slack'
      )
      if (answer.status === 'note') mark(event.ts, noteReaction)
      if (!firstTry) return ok
      if (answer.status === 'closed') {
        tell(event.user, 'This handoff is closed, so your reply was not sent to the user.', event.thread_ts)
      } else if (answer.status === 'unknown') {
        tell(event.user, 'The relay does not know this handoff any more, so your reply was not sent.', event.thread_ts)
      } else if (answer.status === 'stored') {
        const unsent = [
          files.missing.length > 0 ? `Slack gives no link to ${listed(files.missing)}, so it was left out.` : '',
          files.privateNames.length > 0
            ? `${listed(files.privateNames)} went as a Slack link that only members of this workspace can open; to let the user open it, make a public link to the file in Slack and reply with that link.`
            : ''
        ].filter(line => line !== '')
        if (unsent.length > 0) tell(event.user, unsent.join(' '), event.thread_ts)
      }
      return ok
    }
  }

  const interactivity: InboundRoute = {
    path: 'interactivity',
    bodyLimit: interactivityBodyLimit,
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
