import { createHash } from 'node:crypto'
import type { Clock } from '../clock.js'
import type { DeskAuthor, HandoffEvent, RelayMessage } from '../message.js'
import type { DeskAnswer, HandoffDesk, HandoffRecord, HandoffRef } from '../relays/types.js'
import type { Store } from '../store/types.js'
import { toMillis } from '../intake/normalise.js'
import type { ChatBody, CloseBody, EstablishBody } from './schemas.js'

/** The built-in relay that takes the humans' replies to GPTBots: its lanes are the handoffs. */
export const gptbotsRelay = '@gptbots'
/** Where the desk keeps its records (relay_state), apart from every relay's own. */
const deskSpace = '@handoff'

/** A handoff's lanes: its own conversation, apart from the bot conversation's webhooks. */
export const handoffConversation = (handoffId: string): string => `handoff:${handoffId}`

const digest = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex').slice(0, 16)

export interface DeskOptions {
  store: Store
  clock: Clock
  /** The desk relays now (from the config in force). */
  deskRelays(): readonly string[]
  /** Wakes delivery after something was stored. */
  accepted(): void
  /** The note marker now (config handoff.noteMarker); '' turns notes off. */
  noteMarker?(): string
  /** The holding reply now (config handoff.holdingReply), or undefined when it is off. */
  holdingReply?(): { text: string; afterMs: number } | undefined
}

/** A handoff waiting for its first answer, to get the holding reply when none comes in time. */
interface Waiting extends HandoffRef {
  openedAt: number
  dueAt: number
}

export type Stored = { duplicate: boolean }

/**
 * The handoff desk: turns GPTBots' handoff calls and the humans' actions into stored messages of
 * the handoff's conversation (docs/handoff.md), and keeps each handoff's record.
 */
export class Desk implements HandoffDesk {
  constructor(private readonly options: DeskOptions) {}

  async record(ref: HandoffRef): Promise<HandoffRecord | undefined> {
    const value = (await this.options.store.stateGet(
      deskSpace,
      ref.source,
      handoffConversation(ref.handoffId),
      'record'
    )) as HandoffRecord | undefined
    return value ?? undefined
  }

  private async keep(record: HandoffRecord): Promise<void> {
    await this.options.store.stateSet(deskSpace, record.source, handoffConversation(record.handoffId), 'record', record)
  }

  async link(key: string, ref: HandoffRef): Promise<void> {
    await this.options.store.stateSet(deskSpace, '', `link:${key}`, 'handoff', ref)
  }

  async find(key: string): Promise<HandoffRef | undefined> {
    const value = (await this.options.store.stateGet(deskSpace, '', `link:${key}`, 'handoff')) as HandoffRef | undefined
    return value ?? undefined
  }

  /** Stores one message of a handoff for `to`, and wakes delivery when it is new. */
  private async store(
    ref: HandoffRef,
    messageId: string,
    type: RelayMessage['type'],
    handoff: HandoffEvent,
    to: readonly string[],
    text?: string,
    createdAt?: number
  ): Promise<Stored> {
    const now = this.options.clock.now()
    const message: RelayMessage = {
      source: ref.source,
      messageId,
      conversationId: handoffConversation(ref.handoffId),
      type,
      ...(text === undefined ? {} : { text }),
      flowOutput: [],
      createdAt: createdAt ?? now,
      receivedAt: now,
      format: 'handoff',
      handoff
    }
    const result = await this.options.store.accept(message, [...to])
    if (!result.duplicate && to.length > 0) this.options.accepted()
    return { duplicate: result.duplicate }
  }

  /** GPTBots hands a conversation over: a new thread on every desk. */
  async establish(source: string, body: EstablishBody): Promise<Stored> {
    const ref = { source, handoffId: body.conversation_id }
    const at = toMillis(body.timestamp)
    const record = await this.record(ref)
    // A handoff GPTBots opens again (a new establish) starts afresh.
    if (record?.status !== 'open' || record.openedAt !== at) {
      await this.keep({ ...ref, status: 'open', openedAt: at })
    }
    const userInfo: Record<string, string> = {}
    for (const [key, value] of Object.entries(body.user_info ?? {}))
      if (typeof value === 'string' && value !== '') userInfo[key] = value
    const event: HandoffEvent = {
      kind: 'establish',
      handoffId: body.conversation_id,
      ...(body.bot_id ? { botId: body.bot_id } : {}),
      ...(body.email ? { email: body.email } : {}),
      userInfo,
      history: body.body.map(turn => ({ type: turn.message_type, text: turn.text }))
    }
    const stored = await this.store(
      ref,
      `establish:${body.conversation_id}:${at}`,
      'QUESTION',
      event,
      this.options.deskRelays(),
      'A human is needed',
      at
    )
    const holding = this.options.holdingReply?.()
    if (holding && !stored.duplicate) {
      const waiting = await this.waiting()
      waiting.push({ ...ref, openedAt: at, dueAt: this.options.clock.now() + holding.afterMs })
      await this.options.store.stateSet(deskSpace, '', 'holding', 'waiting', waiting)
    }
    return stored
  }

  private async waiting(): Promise<Waiting[]> {
    return ((await this.options.store.stateGet(deskSpace, '', 'holding', 'waiting')) as Waiting[] | undefined) ?? []
  }

  /**
   * Sends the holding reply to each handoff whose wait is over with no person's answer yet: stored
   * for GPTBots (in the handoff's lane, ahead of any later reply) and for every desk. The list is
   * kept in the store, so a restart keeps the waits; a repeat is the same message id, sent once.
   */
  async tick(): Promise<void> {
    const waiting = await this.waiting()
    if (waiting.length === 0) return
    const now = this.options.clock.now()
    const due = waiting.filter(w => w.dueAt <= now)
    if (due.length === 0) return
    const holding = this.options.holdingReply?.()
    for (const wait of due) {
      const record = await this.record(wait)
      if (!holding || record?.status !== 'open' || record.openedAt !== wait.openedAt || record.answeredAt) continue
      await this.store(
        wait,
        `holding:${wait.handoffId}:${wait.openedAt}`,
        'ANSWER',
        { kind: 'holding', handoffId: wait.handoffId, afterMs: holding.afterMs },
        [gptbotsRelay, ...this.options.deskRelays()],
        holding.text
      )
    }
    // Read again: an establish may have added a wait meanwhile.
    const left = (await this.waiting()).filter(
      w => !due.some(d => d.handoffId === w.handoffId && d.source === w.source && d.openedAt === w.openedAt)
    )
    await this.options.store.stateSet(deskSpace, '', 'holding', 'waiting', left)
  }

  /** The user's message, for every desk. */
  chat(source: string, body: ChatBody): Promise<Stored> {
    const at = toMillis(body.timestamp)
    return this.store(
      { source, handoffId: body.conversation_id },
      `chat:${body.conversation_id}:${at}:${digest(body.body)}`,
      'QUESTION',
      { kind: 'chat', handoffId: body.conversation_id },
      this.options.deskRelays(),
      body.body,
      at
    )
  }

  /** GPTBots ended the handoff (timeout, or the user left). */
  async closedByGptbots(source: string, body: CloseBody): Promise<Stored> {
    const ref = { source, handoffId: body.conversation_id }
    const at = toMillis(body.timestamp)
    const record = await this.record(ref)
    if (record?.status !== 'closed') {
      await this.keep({
        ...(record ?? { ...ref, openedAt: at }),
        status: 'closed',
        closedAt: at,
        closedReason: body.type
      })
    }
    return this.store(
      ref,
      `close:${body.conversation_id}:${at}`,
      'QUESTION',
      { kind: 'close', handoffId: body.conversation_id, reason: body.type },
      this.options.deskRelays(),
      undefined,
      at
    )
  }

  /** The record when the handoff takes a human's action, or the answer that says why not. */
  private async open(ref: HandoffRef): Promise<HandoffRecord | DeskAnswer> {
    const record = await this.record(ref)
    if (!record) return { status: 'unknown' }
    if (record.status === 'closed') return { status: 'closed', record }
    return record
  }

  async reply(
    input: HandoffRef & {
      replyId: string
      text: string
      author: DeskAuthor
      ref: Record<string, unknown>
      desk?: string
    }
  ): Promise<DeskAnswer> {
    // A note is the team's: checked before anything else, so that it never goes out, open or not.
    const marker = this.noteMarker()
    if (marker !== '' && input.text.trimStart().startsWith(marker)) return { status: 'note' }
    const record = await this.open(input)
    if (!('openedAt' in record)) return record
    const desk = input.desk ?? 'desk'
    const stored = await this.store(
      input,
      `reply:${desk}:${input.replyId}`,
      'ANSWER',
      { kind: 'reply', handoffId: input.handoffId, desk, author: input.author, ref: input.ref },
      [gptbotsRelay],
      input.text
    )
    if (!stored.duplicate && !record.answeredAt) {
      // Read again: a claim may have been kept since.
      const now = await this.record(input)
      if (now) await this.keep({ ...now, answeredAt: this.options.clock.now() })
    }
    return { status: stored.duplicate ? 'duplicate' : 'stored' }
  }

  noteMarker(): string {
    return this.options.noteMarker?.() ?? '//'
  }

  async claim(input: HandoffRef & { author: DeskAuthor }): Promise<DeskAnswer> {
    const record = await this.open(input)
    if (!('openedAt' in record)) return record
    if (record.claimedBy) return { status: 'duplicate' }
    await this.keep({ ...record, claimedBy: input.author })
    await this.store(
      input,
      `claim:${input.handoffId}:${record.openedAt}`,
      'ANSWER',
      { kind: 'claim', handoffId: input.handoffId, author: input.author },
      this.options.deskRelays()
    )
    return { status: 'stored' }
  }

  async close(input: HandoffRef & { author: DeskAuthor; desk?: string }): Promise<DeskAnswer> {
    const record = await this.open(input)
    if (!('openedAt' in record)) return record
    const now = this.options.clock.now()
    await this.keep({ ...record, status: 'closed', closedAt: now, closedReason: 'AGENT' })
    const desk = input.desk ?? 'desk'
    // GPTBots first, in the handoff's lane behind the replies still going out; then every desk.
    await this.store(
      input,
      `agent-close:${input.handoffId}:${record.openedAt}`,
      'ANSWER',
      { kind: 'agent-close', handoffId: input.handoffId, desk, author: input.author },
      [gptbotsRelay]
    )
    await this.store(
      input,
      `close:${input.handoffId}:agent:${record.openedAt}`,
      'ANSWER',
      { kind: 'close', handoffId: input.handoffId, reason: 'AGENT', author: input.author },
      this.options.deskRelays()
    )
    return { status: 'stored' }
  }

  /** Tells the desk a reply came from whether it reached GPTBots (after delivery, or as a dead letter). */
  async receipt(reply: RelayMessage, status: 'delivered' | 'dead', error?: string): Promise<void> {
    if (reply.handoff?.kind !== 'reply') return
    const { handoffId, desk, ref } = reply.handoff
    await this.store(
      { source: reply.source, handoffId },
      // Delivered happens once (a repeat after a crash is the same receipt); dead may happen again after a replay.
      status === 'delivered'
        ? `receipt:${reply.messageId}:delivered`
        : `receipt:${reply.messageId}:dead:${this.options.clock.now()}`,
      'ANSWER',
      {
        kind: 'receipt',
        handoffId,
        replyMessageId: reply.messageId,
        status,
        ...(error === undefined ? {} : { error }),
        ref
      },
      [desk]
    )
  }

  /** The same desk, as one relay sees it: its replies and closes are marked as coming from it. */
  forRelay(name: string): HandoffDesk {
    return {
      reply: input => this.reply({ ...input, desk: name }),
      claim: input => this.claim(input),
      close: input => this.close({ ...input, desk: name }),
      record: ref => this.record(ref),
      noteMarker: () => this.noteMarker(),
      link: (key, ref) => this.link(`${name}:${key}`, ref),
      find: key => this.find(`${name}:${key}`)
    }
  }
}
