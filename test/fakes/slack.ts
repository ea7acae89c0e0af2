import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { RelayMessage } from '../../src/message.js'
import { relayMessage as sharedRelayMessage } from '../helpers/relay.js'

/*
 * A Slack Web API on loopback for the real WebClient to talk to (through slackApiUrl). It is as
 * strict as Slack's documented limits (../../../shared/platforms.md): a relay that passes here
 * stays within them. It answers auth.test, conversations.info, chat.postMessage and the reading
 * back of a channel (conversations.history) and a thread (conversations.replies).
 */

/** Slack's limits, as this fake enforces them. */
export const slackLimits = {
  blocks: 50,
  sectionText: 3000,
  sectionField: 2000,
  sectionFields: 10,
  headerText: 150,
  contextElements: 10,
  textObject: 3000,
  markdownTotal: 12_000,
  markdownText: 12_000,
  text: 40_000,
  blockId: 255,
  tableRows: 100,
  tableCells: 20,
  tableColumnSettings: 20,
  tablesPerMessage: 1
} as const

export const fakeToken = 'xoxb-fake-token'
export const fakeChannel = 'C0123456'
export const allScopes = [
  'chat:write',
  'chat:write.customize',
  'channels:read',
  'groups:read',
  'channels:history',
  'groups:history',
  'reactions:write'
]

export interface FakeToken {
  scopes?: string[]
  /** Every call with this token fails so: token_revoked, account_inactive, ... */
  error?: string
}

export interface FakeChannel {
  name?: string
  private?: boolean
  archived?: boolean
  /** False: the app is not in the channel, so posting needs chat:write.public. */
  member?: boolean
  /** Every post to this channel fails so. */
  error?: string
}

export interface FakeSlackOptions {
  tokens?: Record<string, FakeToken>
  channels?: Record<string, FakeChannel>
  /** Posts per channel: one per intervalMs, in bursts of up to burst; false lifts the limit. */
  rateLimit?: { intervalMs: number; burst: number } | false
  /** The fake's clock, in ms; tests that move time share one with the relay. */
  now?: () => number
}

/** What a hook or an injected failure answers instead of the fake's own logic. */
export interface FakeReply {
  status?: number
  headers?: Record<string, string>
  body?: unknown
  /** Drop the connection without answering, like a network failure. */
  destroy?: boolean
}

export type Params = Record<string, unknown>
export type MethodHook = (params: Params) => FakeReply | undefined

/** A message Slack accepted, as a test wants to see it. */
export interface PostedMessage {
  channel: string
  ts: string
  thread_ts?: string
  text?: string
  blocks?: Block[]
  username?: string
  icon_emoji?: string
  icon_url?: string
  metadata?: { event_type: string; event_payload: Record<string, unknown> }
  /** Set on messages typed by a person (humanReply), unset on the bot's posts. */
  user?: string
  /** Reaction names on the message, each once, in order added. */
  reactions?: string[]
  /** How many times chat.update changed it. */
  edits?: number
}

/** A message shown to one user only (chat.postEphemeral). */
export interface EphemeralMessage {
  channel: string
  user: string
  text: string
  thread_ts?: string
}

export interface Block {
  type: string
  text?: unknown
  elements?: unknown[]
  fields?: unknown[]
  block_id?: unknown
  rows?: unknown
  column_settings?: unknown
}

export interface FakeCall {
  method: string
  params: Params
  status: number
  body: unknown
  /** When the fake answered, on its clock. */
  at: number
}

interface Bucket {
  tokens: number
  at: number
}

export class FakeSlack {
  readonly messages: PostedMessage[] = []
  readonly ephemerals: EphemeralMessage[] = []
  readonly calls: FakeCall[] = []
  readonly tokens: Record<string, FakeToken>
  readonly channels: Record<string, FakeChannel>
  rateLimit: { intervalMs: number; burst: number } | false
  readonly #now: () => number
  readonly #hooks = new Map<string, MethodHook>()
  readonly #buckets = new Map<string, Bucket>()
  #failures: FakeReply[] = []
  #forcedLimits = { count: 0, retryAfterSeconds: 1 }
  #failShare = 0
  #lostAnswers = 0
  #random: () => number = Math.random
  #seq = 0

  private constructor(
    private readonly server: Server,
    options: FakeSlackOptions
  ) {
    this.tokens = options.tokens ?? { [fakeToken]: { scopes: allScopes } }
    this.channels = options.channels ?? { [fakeChannel]: { name: 'relay' } }
    this.rateLimit = options.rateLimit ?? { intervalMs: 1000, burst: 3 }
    this.#now = options.now ?? Date.now
  }

  static async start(options: FakeSlackOptions = {}): Promise<FakeSlack> {
    const server = createServer()
    const fake = new FakeSlack(server, options)
    server.on('request', (req, res) => {
      fake.#handle(req, res).catch(error => fail(res, error))
    })
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    return fake
  }

  get apiUrl(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/api/`
  }

  async close(): Promise<void> {
    this.server.closeAllConnections()
    await new Promise<void>(resolve => this.server.close(() => resolve()))
  }

  /** The next `count` calls fail with this HTTP status. */
  failNext(count: number, status = 500): void {
    for (let i = 0; i < count; i++) this.#failures.push({ status, body: 'upstream trouble' })
  }

  /** The next `count` chat.postMessage calls answer 429 with this Retry-After, whatever the pace. */
  rateLimitNext(count: number, retryAfterSeconds = 1): void {
    this.#forcedLimits = { count, retryAfterSeconds }
  }

  /** The next `count` chat.postMessage calls that succeed are posted, but their answers are lost (the connection drops). */
  loseAnswers(count: number): void {
    this.#lostAnswers = count
  }

  /** This share (0..1) of all calls fails with HTTP 503, drawn from `random`. */
  failShare(share: number, random: () => number = Math.random): void {
    this.#failShare = share
    this.#random = random
  }

  /** Answers calls of `method` with the hook's reply whenever it returns one. */
  on(method: string, hook: MethodHook | undefined): void {
    if (hook) this.#hooks.set(method, hook)
    else this.#hooks.delete(method)
  }

  /** Deletes a message, as someone in Slack could. */
  deleteMessage(channel: string, ts: string): void {
    const index = this.messages.findIndex(m => m.channel === channel && m.ts === ts)
    if (index !== -1) this.messages.splice(index, 1)
  }

  /** The channel's top-level messages. */
  parents(channel = fakeChannel): PostedMessage[] {
    return this.messages.filter(m => m.channel === channel && !m.thread_ts)
  }

  /** The replies in a thread, in order. */
  replies(threadTs: string): PostedMessage[] {
    return this.messages.filter(m => m.thread_ts === threadTs)
  }

  /**
   * A person types a reply in a thread, as Slack would record it; returns the `message` event
   * Slack sends to the app's Events API for it.
   */
  humanReply(
    channel: string,
    threadTs: string,
    user: string,
    text: string,
    /** Slack's extra fields of the event, such as `subtype` and `files`. */
    extra: Record<string, unknown> = {}
  ): Record<string, unknown> {
    const ts = `${Math.floor(this.#now() / 1000)}.${String(++this.#seq).padStart(6, '0')}`
    this.messages.push({ channel, ts, thread_ts: threadTs, text, user })
    return {
      type: 'message',
      channel,
      user,
      text,
      ts,
      thread_ts: threadTs,
      event_ts: ts,
      channel_type: 'channel',
      ...extra
    }
  }

  callsOf(method: string): FakeCall[] {
    return this.calls.filter(c => c.method === method)
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = new URL(req.url ?? '/', 'http://fake').pathname.replace(/^.*\/api\//, '')
    const params = await readParams(req)
    const token = bearer(req.headers.authorization) ?? (typeof params.token === 'string' ? params.token : undefined)
    const reply = this.#injected(method, params) ?? this.#answer(method, params, token)
    this.calls.push({ method, params, status: reply.status ?? 200, body: reply.body, at: this.#now() })
    const posted = method === 'chat.postMessage' && (reply.body as { ok?: unknown } | undefined)?.ok === true
    if (posted && this.#lostAnswers > 0) {
      this.#lostAnswers--
      req.socket.destroy()
      return
    }
    if (reply.destroy) {
      req.socket.destroy()
      return
    }
    const body = typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body ?? { ok: true })
    const type = typeof reply.body === 'string' ? 'text/plain' : 'application/json; charset=utf-8'
    // Slack answers every call made with a valid token with the scopes granted to it.
    const owner = token === undefined ? undefined : this.tokens[token]
    const granted = owner && !owner.error ? { 'x-oauth-scopes': (owner.scopes ?? allScopes).join(',') } : {}
    res.writeHead(reply.status ?? 200, { 'content-type': type, ...granted, ...reply.headers })
    res.end(body)
  }

  #injected(method: string, params: Params): FakeReply | undefined {
    const failure = this.#failures.shift()
    if (failure) return failure
    if (this.#failShare > 0 && this.#random() < this.#failShare) return { status: 503, body: 'service unavailable' }
    if (method === 'chat.postMessage' && this.#forcedLimits.count > 0) {
      this.#forcedLimits.count--
      return tooManyRequests(this.#forcedLimits.retryAfterSeconds)
    }
    return this.#hooks.get(method)?.(params)
  }

  #answer(method: string, params: Params, token: string | undefined): FakeReply {
    const known = [
      'auth.test',
      'conversations.info',
      'chat.postMessage',
      'chat.update',
      'chat.postEphemeral',
      'reactions.add',
      'conversations.history',
      'conversations.replies'
    ]
    if (!known.includes(method)) return slackError('unknown_method')
    if (token === undefined) return slackError('not_authed')
    const owner = this.tokens[token]
    if (!owner) return slackError('invalid_auth')
    if (owner.error) return slackError(owner.error)
    const scopes = owner.scopes ?? allScopes
    if (method === 'auth.test') {
      return ok({
        url: 'https://fake.slack.com/',
        team: 'Fake',
        user: 'relay',
        team_id: 'T0FAKE',
        user_id: 'U0FAKE',
        bot_id: 'B0FAKE'
      })
    }
    const channelId = typeof params.channel === 'string' ? params.channel : ''
    const channel = this.channels[channelId]
    if (method === 'conversations.info') {
      const needed = channel?.private ? 'groups:read' : 'channels:read'
      if (!scopes.includes(needed)) return slackError('missing_scope', { needed, provided: scopes.join(',') })
      if (!channel || (channel.private && channel.member === false)) return slackError('channel_not_found')
      return ok({ channel: channelInfo(channelId, channel) })
    }
    if (method === 'conversations.history' || method === 'conversations.replies') {
      const needed = channel?.private ? 'groups:history' : 'channels:history'
      if (!scopes.includes(needed)) return slackError('missing_scope', { needed, provided: scopes.join(',') })
      if (!channel || (channel.private && channel.member === false)) return slackError('channel_not_found')
      return method === 'conversations.history' ? this.#history(channelId, params) : this.#thread(channelId, params)
    }
    if (!scopes.includes('chat:write'))
      return slackError('missing_scope', { needed: 'chat:write', provided: scopes.join(',') })
    if (!channel || (channel.private && channel.member === false)) return slackError('channel_not_found')
    if (channel.error) return slackError(channel.error)
    if (channel.archived) return slackError('is_archived')
    if (channel.member === false && !scopes.includes('chat:write.public')) return slackError('not_in_channel')
    if (method === 'reactions.add') return this.#react(channelId, params, scopes)
    if (method === 'chat.update') return this.#update(channelId, params)
    if (method === 'chat.postEphemeral') return this.#ephemeral(channelId, params)
    const limited = this.#rateLimited(channelId)
    if (limited) return limited
    return this.#post(channelId, params, scopes)
  }

  // Slack: reactions.add needs reactions:write, an existing message, a known emoji name, and a
  // reaction not already there (already_reacted).
  #react(channel: string, params: Params, scopes: string[]): FakeReply {
    if (!scopes.includes('reactions:write'))
      return slackError('missing_scope', { needed: 'reactions:write', provided: scopes.join(',') })
    const name = params.name
    if (typeof name !== 'string' || !/^[a-z0-9_+'-]+$/.test(name)) return slackError('invalid_name')
    const message = this.messages.find(m => m.channel === channel && m.ts === params.timestamp)
    if (!message) return slackError('message_not_found')
    message.reactions ??= []
    if (message.reactions.includes(name)) return slackError('already_reacted')
    message.reactions.push(name)
    return ok({})
  }

  // Slack: an app may update only its own messages (cant_update_message), checked like a post.
  #update(channel: string, params: Params): FakeReply {
    const message = this.messages.find(m => m.channel === channel && m.ts === params.ts)
    if (!message) return slackError('message_not_found')
    if (message.user !== undefined) return slackError('cant_update_message')
    const invalid = checkMessage(params)
    if (invalid) return invalid
    message.text = optionalString(params.text)
    message.blocks = params.blocks as Block[] | undefined
    message.edits = (message.edits ?? 0) + 1
    return ok({ channel, ts: message.ts, text: message.text ?? '' })
  }

  #ephemeral(channel: string, params: Params): FakeReply {
    if (typeof params.user !== 'string' || !/^[UW][A-Z0-9]+$/.test(params.user)) return slackError('user_not_found')
    const invalid = checkMessage(params)
    if (invalid) return invalid
    const threadTs = optionalString(params.thread_ts)
    this.ephemerals.push({ channel, user: params.user, text: optionalString(params.text) ?? '', thread_ts: threadTs })
    return ok({ message_ts: `${Math.floor(this.#now() / 1000)}.${String(++this.#seq).padStart(6, '0')}` })
  }

  // Slack: a channel's top-level messages, newest first, between `oldest` and `latest` (exclusive
  // unless `inclusive`), `limit` (at most 999) per page with a cursor; `metadata` only with
  // include_all_metadata.
  #history(channel: string, params: Params): FakeReply {
    const all = this.messages.filter(m => m.channel === channel && !m.thread_ts)
    return this.#page(window(all, params).reverse(), params)
  }

  // Slack: a thread's messages, the parent first, then its replies oldest first.
  #thread(channel: string, params: Params): FakeReply {
    const ts = optionalString(params.ts)
    if (ts === undefined) return slackError('invalid_arguments', {}, ['missing required field: ts'])
    const parent = this.messages.find(m => m.channel === channel && m.ts === ts)
    if (!parent) return slackError('thread_not_found')
    if (parent.thread_ts) return this.#page([parent], params)
    const replies = this.messages.filter(m => m.channel === channel && m.thread_ts === ts)
    return this.#page([parent, ...window(replies, params)], params)
  }

  #page(found: PostedMessage[], params: Params): FakeReply {
    const limit = params.limit === undefined ? 100 : Number(params.limit)
    if (!Number.isInteger(limit) || limit < 1) return slackError('invalid_limit')
    const start = params.cursor === undefined || params.cursor === '' ? 0 : Number(params.cursor)
    if (!Number.isInteger(start) || start < 0) return slackError('invalid_cursor')
    const size = Math.min(limit, 999)
    const metadata = params.include_all_metadata === true || params.include_all_metadata === 'true'
    const messages = found.slice(start, start + size).map(m => ({
      type: 'message',
      ts: m.ts,
      text: m.text ?? '',
      ...(m.user ? { user: m.user } : { bot_id: 'B0FAKE' }),
      ...(m.thread_ts ? { thread_ts: m.thread_ts } : {}),
      ...(metadata && m.metadata ? { metadata: m.metadata } : {})
    }))
    const more = start + size < found.length
    return ok({ messages, has_more: more, response_metadata: { next_cursor: more ? String(start + size) : '' } })
  }

  #rateLimited(channel: string): FakeReply | undefined {
    if (!this.rateLimit) return undefined
    const { intervalMs, burst } = this.rateLimit
    const now = this.#now()
    const bucket = this.#buckets.get(channel) ?? { tokens: burst, at: now }
    bucket.tokens = Math.min(burst, bucket.tokens + (intervalMs > 0 ? (now - bucket.at) / intervalMs : burst))
    bucket.at = now
    this.#buckets.set(channel, bucket)
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1
      return undefined
    }
    return tooManyRequests(Math.max(1, Math.ceil(((1 - bucket.tokens) * intervalMs) / 1000)))
  }

  #post(channel: string, params: Params, scopes: string[]): FakeReply {
    const invalid = checkMessage(params)
    if (invalid) return invalid
    const threadTs = typeof params.thread_ts === 'string' ? params.thread_ts : undefined
    if (threadTs !== undefined) {
      const parent = this.messages.find(m => m.channel === channel && m.ts === threadTs)
      if (!parent) return slackError('thread_not_found')
      // Slack's rule for thread_ts: the parent's ts, never a reply's.
      if (parent.thread_ts) return slackError('invalid_thread_ts')
    }
    const ts = `${Math.floor(this.#now() / 1000)}.${String(++this.#seq).padStart(6, '0')}`
    // Without chat:write.customize, Slack ignores the per-message name and icon.
    const customize = scopes.includes('chat:write.customize')
    const message: PostedMessage = {
      channel,
      ts,
      thread_ts: threadTs,
      text: optionalString(params.text),
      blocks: params.blocks as Block[] | undefined,
      username: customize ? optionalString(params.username) : undefined,
      icon_emoji: customize ? optionalString(params.icon_emoji) : undefined,
      icon_url: customize ? optionalString(params.icon_url) : undefined,
      metadata: params.metadata as PostedMessage['metadata']
    }
    this.messages.push(message)
    return ok({ channel, ts, message: { type: 'message', text: message.text ?? '', ts, thread_ts: threadTs } })
  }
}

/** Checks a chat.postMessage's content against Slack's limits; undefined when it passes. */
export function checkMessage(params: Params): FakeReply | undefined {
  const text = optionalString(params.text)
  const markdownText = optionalString(params.markdown_text)
  const blocks = params.blocks
  if (params.blocks === null) return slackError('invalid_blocks_format')
  if (markdownText !== undefined) {
    if (text !== undefined || blocks !== undefined) {
      return slackError('invalid_arguments', {}, ['markdown_text can not be combined with text or blocks'])
    }
    if (markdownText.length > slackLimits.markdownText) return slackError('msg_too_long')
  }
  if (!text && blocks === undefined && !markdownText) return slackError('no_text')
  if (text !== undefined && text.length > slackLimits.text) return slackError('msg_too_long')
  if (blocks !== undefined) {
    const problem = checkBlocks(blocks)
    if (problem) return problem
  }
  if (params.metadata !== undefined) {
    const metadata = params.metadata as { event_type?: unknown; event_payload?: unknown } | null
    if (
      typeof metadata !== 'object' ||
      metadata === null ||
      typeof metadata.event_type !== 'string' ||
      !/^[A-Za-z0-9_.-]+$/.test(metadata.event_type) ||
      typeof metadata.event_payload !== 'object' ||
      metadata.event_payload === null
    ) {
      return slackError('invalid_metadata_format')
    }
  }
  return undefined
}

function checkBlocks(blocks: unknown): FakeReply | undefined {
  if (!Array.isArray(blocks)) return slackError('invalid_blocks_format')
  if (blocks.length > slackLimits.blocks) return invalidBlocks(`no more than ${slackLimits.blocks} items allowed`, '')
  let markdown = 0
  let tables = 0
  for (const [index, value] of blocks.entries()) {
    const at = `/${index}`
    if (typeof value !== 'object' || value === null) return invalidBlocks('must be an object', at)
    const block = value as Block
    if (
      block.block_id !== undefined &&
      (typeof block.block_id !== 'string' || block.block_id.length > slackLimits.blockId)
    ) {
      return invalidBlocks(`must be a string of at most ${slackLimits.blockId} characters`, `${at}/block_id`)
    }
    let problem: string | undefined
    switch (block.type) {
      case 'markdown':
        if (typeof block.text !== 'string' || block.text.length === 0) problem = 'text must be a non-empty string'
        else markdown += block.text.length
        break
      case 'section':
        problem = checkSection(block)
        break
      case 'header':
        problem = checkText(block.text, slackLimits.headerText, ['plain_text'])
        break
      case 'context':
        problem = checkContext(block)
        break
      case 'divider':
        break
      case 'rich_text':
        if (!Array.isArray(block.elements)) problem = 'elements must be an array'
        break
      case 'table':
        tables++
        problem = checkTable(block)
        break
      case 'actions':
        problem = checkActions(block)
        break
      default:
        problem = `unsupported type: ${String(block.type)}`
    }
    if (problem) return invalidBlocks(problem, at)
  }
  // Slack: "only_one_table_allowed", answered as invalid_attachments.
  if (tables > slackLimits.tablesPerMessage) return slackError('invalid_attachments', {}, ['only_one_table_allowed'])
  if (markdown > slackLimits.markdownTotal) {
    return slackError('msg_blocks_too_long', {}, [
      `markdown blocks hold ${markdown} characters, more than ${slackLimits.markdownTotal}`
    ])
  }
  return undefined
}

const richStyles = new Set(['bold', 'italic', 'strike', 'code'])

/**
 * A rich_text block's elements as Slack's reference documents them, for what a table cell holds:
 * sections of `text` (a non-empty string) and `link` (a non-empty url, an optional text) elements, each
 * with an optional style of boolean bold, italic, strike and code.
 */
function checkRichText(elements: unknown): string | undefined {
  if (!Array.isArray(elements) || elements.length === 0) return 'elements: a non-empty array'
  for (const [s, value] of elements.entries()) {
    const section = value as { type?: unknown; elements?: unknown } | null
    if (section?.type !== 'rich_text_section') return `elements/${s}: type must be rich_text_section`
    if (!Array.isArray(section.elements) || section.elements.length === 0)
      return `elements/${s}/elements: a non-empty array`
    for (const [e, item] of section.elements.entries()) {
      const at = `elements/${s}/elements/${e}`
      const element = item as { type?: unknown; text?: unknown; url?: unknown; style?: unknown } | null
      if (typeof element !== 'object' || element === null) return `${at}: must be an object`
      const allowed = element.type === 'link' ? ['type', 'url', 'text', 'style'] : ['type', 'text', 'style']
      if (Object.keys(element).some(key => !allowed.includes(key))) return `${at}: unknown field`
      if (element.type === 'text') {
        if (typeof element.text !== 'string' || element.text.length === 0) return `${at}/text: a non-empty string`
      } else if (element.type === 'link') {
        if (typeof element.url !== 'string' || element.url.length === 0) return `${at}/url: a non-empty string`
        if (element.text !== undefined && (typeof element.text !== 'string' || element.text.length === 0))
          return `${at}/text: a non-empty string`
      } else return `${at}: type must be text or link`
      if (element.style !== undefined) {
        const style = element.style as Record<string, unknown> | null
        if (typeof style !== 'object' || style === null) return `${at}/style: must be an object`
        for (const [key, on] of Object.entries(style))
          if (!richStyles.has(key) || typeof on !== 'boolean') return `${at}/style/${key}: not a style`
      }
    }
  }
  return undefined
}

/**
 * The table block as Slack's block reference documents it: 1 to 100 rows, each of 1 to 20 cells
 * of raw_text (a non-empty text) or rich_text; at most 20 column settings, each with an align of
 * left, center or right and a boolean is_wrapped, and nothing else.
 */
function checkTable(block: Block): string | undefined {
  const rows = block.rows
  if (!Array.isArray(rows) || rows.length === 0 || rows.length > slackLimits.tableRows)
    return `rows: between 1 and ${slackLimits.tableRows} items`
  for (const [r, row] of rows.entries()) {
    if (!Array.isArray(row) || row.length === 0 || row.length > slackLimits.tableCells)
      return `rows/${r}: between 1 and ${slackLimits.tableCells} cells`
    for (const [c, value] of row.entries()) {
      const cell = value as { type?: unknown; text?: unknown; elements?: unknown } | null
      const at = `rows/${r}/${c}`
      if (typeof cell !== 'object' || cell === null) return `${at}: must be an object`
      if (cell.type === 'raw_text') {
        if (typeof cell.text !== 'string' || cell.text.length === 0) return `${at}: text must be a non-empty string`
        if (Object.keys(cell).some(key => key !== 'type' && key !== 'text')) return `${at}: unknown field`
      } else if (cell.type === 'rich_text') {
        const problem = checkRichText(cell.elements)
        if (problem) return `${at}/${problem}`
      } else return `${at}: type must be raw_text or rich_text`
    }
  }
  const settings = block.column_settings
  if (settings === undefined) return undefined
  if (!Array.isArray(settings) || settings.length > slackLimits.tableColumnSettings)
    return `column_settings: at most ${slackLimits.tableColumnSettings} items`
  for (const [i, value] of settings.entries()) {
    const setting = value as { align?: unknown; is_wrapped?: unknown } | null
    if (typeof setting !== 'object' || setting === null) return `column_settings/${i}: must be an object`
    if (setting.align !== undefined && !['left', 'center', 'right'].includes(String(setting.align)))
      return `column_settings/${i}/align: must be left, center or right`
    if (setting.is_wrapped !== undefined && typeof setting.is_wrapped !== 'boolean')
      return `column_settings/${i}/is_wrapped: must be a boolean`
    if (Object.keys(setting).some(key => key !== 'align' && key !== 'is_wrapped'))
      return `column_settings/${i}: unknown field`
  }
  return undefined
}

/** Buttons as Slack's block reference has them: 1 to 25 elements, label 75, action_id 255, value 2000. */
function checkActions(block: Block): string | undefined {
  const elements = block.elements
  if (!Array.isArray(elements) || elements.length === 0 || elements.length > 25)
    return 'elements: between 1 and 25 items'
  const ids = new Set<string>()
  for (const [i, value] of elements.entries()) {
    const button = value as { type?: unknown; text?: unknown; action_id?: unknown; value?: unknown; style?: unknown }
    if (button.type !== 'button') return `elements/${i}: only buttons are supported by this fake`
    const problem = checkText(button.text, 75, ['plain_text'])
    if (problem) return `elements/${i}/text: ${problem}`
    if (typeof button.action_id !== 'string' || button.action_id.length === 0 || button.action_id.length > 255)
      return `elements/${i}/action_id: a string of 1 to 255 characters`
    if (ids.has(button.action_id)) return `elements/${i}/action_id: must be unique in the block`
    ids.add(button.action_id)
    if (button.value !== undefined && (typeof button.value !== 'string' || button.value.length > 2000))
      return `elements/${i}/value: at most 2000 characters`
    if (button.style !== undefined && button.style !== 'primary' && button.style !== 'danger')
      return `elements/${i}/style: primary or danger`
  }
  return undefined
}

function checkSection(block: Block): string | undefined {
  if (block.text === undefined && block.fields === undefined) return 'needs text or fields'
  if (block.text !== undefined) {
    const problem = checkText(block.text, slackLimits.sectionText)
    if (problem) return `text: ${problem}`
  }
  if (block.fields !== undefined) {
    if (!Array.isArray(block.fields) || block.fields.length > slackLimits.sectionFields) {
      return `fields: at most ${slackLimits.sectionFields} items`
    }
    for (const field of block.fields) {
      const problem = checkText(field, slackLimits.sectionField)
      if (problem) return `fields: ${problem}`
    }
  }
  return undefined
}

function checkContext(block: Block): string | undefined {
  const elements = block.elements
  if (!Array.isArray(elements) || elements.length === 0 || elements.length > slackLimits.contextElements) {
    return `elements: between 1 and ${slackLimits.contextElements} items`
  }
  for (const element of elements) {
    const image = element as { type?: unknown; image_url?: unknown; alt_text?: unknown }
    if (image.type === 'image') {
      if (typeof image.image_url !== 'string' || typeof image.alt_text !== 'string')
        return 'image needs image_url and alt_text'
      continue
    }
    const problem = checkText(element, slackLimits.textObject)
    if (problem) return problem
  }
  return undefined
}

function checkText(value: unknown, max: number, types = ['plain_text', 'mrkdwn']): string | undefined {
  const text = value as { type?: unknown; text?: unknown } | undefined
  if (typeof text !== 'object' || text === null || !types.includes(String(text.type))) {
    return `a text object of type ${types.join(' or ')} is required`
  }
  if (typeof text.text !== 'string' || text.text.length === 0) return 'text must be a non-empty string'
  if (text.text.length > max) return `must be less than ${max + 1} characters`
  return undefined
}

function invalidBlocks(problem: string, pointer: string): FakeReply {
  return slackError('invalid_blocks', {}, [`[ERROR] ${problem} [json-pointer:/blocks${pointer}]`])
}

function slackError(error: string, extra: Params = {}, messages?: string[]): FakeReply {
  return { body: { ok: false, error, ...extra, ...(messages ? { response_metadata: { messages } } : {}) } }
}

function tooManyRequests(retryAfterSeconds: number): FakeReply {
  return {
    status: 429,
    headers: { 'retry-after': String(retryAfterSeconds) },
    body: { ok: false, error: 'ratelimited' }
  }
}

function ok(body: Params): FakeReply {
  return { body: { ok: true, ...body } }
}

function channelInfo(id: string, channel: FakeChannel): Params {
  return {
    id,
    name: channel.name ?? id.toLowerCase(),
    is_channel: !channel.private,
    is_private: Boolean(channel.private),
    is_archived: Boolean(channel.archived),
    is_member: channel.member !== false
  }
}

/** The messages between `oldest` and `latest` (Slack ts strings; exclusive unless `inclusive`). */
function window(messages: PostedMessage[], params: Params): PostedMessage[] {
  const inclusive = params.inclusive === true || params.inclusive === 'true'
  const oldest = params.oldest === undefined ? undefined : Number(params.oldest)
  const latest = params.latest === undefined ? undefined : Number(params.latest)
  return messages.filter(m => {
    const ts = Number(m.ts)
    if (oldest !== undefined && (inclusive ? ts < oldest : ts <= oldest)) return false
    if (latest !== undefined && (inclusive ? ts > latest : ts >= latest)) return false
    return true
  })
}

function optionalString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined
}

function bearer(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)$/i.exec(header ?? '')
  return match?.[1]
}

// The WebClient sends form-encoded bodies with objects (blocks, metadata) as JSON inside;
// Slack also takes JSON bodies. Both end up as the same params.
async function readParams(req: IncomingMessage): Promise<Params> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  const raw = Buffer.concat(chunks).toString('utf8')
  if ((req.headers['content-type'] ?? '').includes('application/json')) {
    return raw ? (JSON.parse(raw) as Params) : {}
  }
  const params: Params = Object.fromEntries(new URLSearchParams(raw))
  for (const key of ['blocks', 'metadata', 'attachments']) {
    if (typeof params[key] !== 'string') continue
    try {
      params[key] = JSON.parse(params[key])
    } catch {
      params[key] = null
    }
  }
  return params
}

function fail(res: ServerResponse, error: unknown): void {
  if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' })
  res.end(String(error))
}

/*
 * What tests of the Slack relay share besides the server: a start of time, a logger
 * that remembers, and GPTBots messages as the relay receives them.
 */

/** The Slack tests' start of time (the shared ManualClock lives in test/helpers/clock.ts). */
export const slackEpoch = 1_700_000_000_000

/** A RelayMessage as the Slack tests had it: the shared one (test/helpers/relay.ts) with text and fixed times. */
export function relayMessage(fields: Partial<RelayMessage> = {}): RelayMessage {
  return sharedRelayMessage({
    conversationId: 'conversation-1',
    text: 'Hello',
    createdAt: slackEpoch,
    receivedAt: slackEpoch + 100,
    ...fields
  })
}

/** The Markdown a posted message shows: its markdown blocks' text. */
export function shownMarkdown(message: PostedMessage): string {
  return (message.blocks ?? [])
    .filter(b => b.type === 'markdown')
    .map(b => String(b.text))
    .join('\n')
}
