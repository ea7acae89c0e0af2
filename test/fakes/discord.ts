import { generateKeyPairSync, type KeyObject, sign as cryptoSign } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { RelayMessage } from '../../src/message.js'
import type { ConversationState, DeliveryOutcome, Relay } from '../../src/relays/types.js'
import { deliveryContext } from '../helpers/relay.js'
import { deliverOne } from '../../src/relays/run-adapter.js'

/**
 * A fake Discord API v10 on loopback for the real @discordjs/rest client (its `api` option set
 * to `fake.api`). Strict about the limits in shared/platforms.md: what real Discord refuses, it
 * refuses with Discord's status and JSON error. Faults are injected per test: rate limits, 5xx,
 * lost answers, denied permissions, archived and deleted threads.
 */

export const ChannelType = {
  Text: 0,
  Announcement: 5,
  AnnouncementThread: 10,
  PublicThread: 11,
  PrivateThread: 12,
  Forum: 15
} as const

const TAKES_MESSAGES: number[] = [
  ChannelType.Text,
  ChannelType.Announcement,
  ChannelType.AnnouncementThread,
  ChannelType.PublicThread,
  ChannelType.PrivateThread
]

export interface FakeChannel {
  id: string
  type: number
  guild_id: string
  name: string
  parent_id?: string
  owner_id?: string
  archived: boolean
  locked: boolean
  deleted: boolean
  /** Answer calls about this channel (and its threads) with 403 and this code. */
  deny?: 50001 | 50013
  /** Permission overwrites, as GET /channels/:id shows them: allow and deny are integers in strings. */
  permission_overwrites?: { id: string; type: 0 | 1; allow: string; deny: string }[]
}

export interface FakeWebhook {
  id: string
  token: string
  channel_id: string
  guild_id: string
  name: string
}

/** A message the fake created, with what the request carried. */
export interface CreatedMessage {
  id: string
  channel_id: string
  author_id: string
  content?: string
  embeds: Embed[]
  allowed_mentions?: AllowedMentions
  nonce?: string | number
  flags?: number
  username?: string
  avatar_url?: string
  webhook_id?: string
  /** Mentions in the content that would have notified someone under Discord's allowed_mentions rules. */
  pinged: string[]
  createdAt: number
  /** Action rows of buttons, as sent (validated). */
  components?: ActionRow[]
  /** Emoji the bot reacted with, in order. */
  reactions?: string[]
  /** How many times the message was edited. */
  edits?: number
  /** Posted as an interaction's answer or follow-up: the interaction's id. */
  interaction_id?: string
  /** Shown only to the user who clicked (flags 64). */
  ephemeral?: boolean
}

export interface Button {
  type: 2
  style: number
  label?: string
  custom_id?: string
  url?: string
  disabled?: boolean
}
export interface ActionRow {
  type: 1
  components: Button[]
}

export interface InteractionUser {
  id: string
  username: string
  global_name?: string
}

/** An interaction the fake sent, and what became of it. */
export interface FakeInteraction {
  id: string
  token: string
  type: 1 | 3 | 5
  channelId?: string
  guildId?: string
  /** The message whose component was used. */
  messageId?: string
  user: InteractionUser
  at: number
  answered: boolean
  response?: any
  /** The message an answer of type 4 created. */
  responseMessageId?: string
  /** The modal an answer of type 9 opened. */
  modal?: { custom_id: string; title: string; inputs: any[] }
}

export interface SendOptions {
  /** X-Signature-Timestamp to send (Unix seconds); now by default. */
  timestamp?: string
  /** Send this signature instead; null sends none (and no timestamp). */
  signature?: string | null
  /** Sign with another key. */
  key?: KeyObject
  /** Sign this text instead of the body sent. */
  signedBody?: string
}

export interface ClickOptions extends SendOptions {
  user?: InteractionUser
  /** Claim the interaction came from another guild. */
  guildId?: string
}

export interface InteractionResult {
  status: number
  body: any
  /** The relay's error code header (`x-relay-error`), when it sent one. */
  errorCode?: string
  /** How long the answer took (Discord allows 3 s); for figures, never for assertions. */
  ms: number
  interaction?: FakeInteraction
}

export interface RecordedRequest {
  method: string
  /** The route with ids replaced, such as `POST /channels/:id/messages`. */
  route: string
  path: string
  query: URLSearchParams
  body: any
  status: number
}

interface Embed {
  title?: string
  description?: string
  footer?: { text?: string }
  author?: { name?: string }
  fields?: { name?: string; value?: string }[]
}
interface AllowedMentions {
  parse?: string[]
  users?: string[]
  roles?: string[]
}

/** A fault for the next matching requests. */
export interface Fault {
  /** Only requests of this route (`POST /channels/:id/messages`); all when absent. */
  route?: string
  /** Only requests whose path contains this (a channel id, say). */
  match?: string
  /** Let this many matching requests through first. */
  skip?: number
  status?: number
  /** Do the work (create the message) and then lose the answer: a 5xx, or a dropped connection. */
  after?: boolean
  drop?: boolean
}

export interface RateLimit {
  route?: string
  /** Only requests whose path contains this (a channel id, say). */
  match?: string
  /** Let this many matching requests through first. */
  skip?: number
  /** How long the 429 says to wait. */
  retryAfterMs: number
  global?: boolean
}

export interface FakeDiscordOptions {
  /** Requests per bucket per window before a 429. */
  bucketLimit?: number
  bucketWindowMs?: number
  /** How long `enforce_nonce` remembers a nonce (Discord: a few minutes). */
  nonceWindowMs?: number
}

const EPOCH = 1420070400000n
let sequence = 0n
/** Real-looking snowflakes (17–19 digits): the REST client keys its rate-limit buckets on them. */
export function snowflake(): string {
  sequence = (sequence + 1n) % 4096n
  return String(((BigInt(Date.now()) - EPOCH) << 22n) | sequence)
}

interface Answer {
  status: number
  body?: unknown
  headers?: Record<string, string>
}
type Handler = (params: string[], request: { body: any; query: URLSearchParams; authorized: boolean }) => Answer

const error = (status: number, code: number, message: string, errors?: unknown): Answer => ({
  status,
  body: errors ? { code, message, errors } : { code, message }
})
const fieldError = (code: string, message: string) => ({ _errors: [{ code, message }] })
const invalidForm = (errors: Record<string, unknown>) => error(400, 50035, 'Invalid Form Body', errors)

export class FakeDiscord {
  readonly token = 'fake-bot-token'
  readonly bot = { id: snowflake(), username: 'relay-bot', bot: true, discriminator: '0' }
  readonly guildId = snowflake()
  /**
   * The server's roles (the @everyone role has the server's id) and the bot's own, as the invite
   * link makes it: the permissions every mode needs, server-wide.
   */
  readonly roles = new Map<string, { id: string; name: string; permissions: string }>([
    [this.guildId, { id: this.guildId, name: '@everyone', permissions: '0' }]
  ])
  readonly botRoles: string[] = []
  readonly channels = new Map<string, FakeChannel>()
  readonly webhooks = new Map<string, FakeWebhook>()
  readonly messages: CreatedMessage[] = []
  readonly requests: RecordedRequest[] = []
  private readonly faults: (Fault & { left: number })[] = []
  private readonly rateLimits: (RateLimit & { left: number })[] = []
  private failShare = 0
  private random: () => number = Math.random
  private readonly buckets = new Map<string, { remaining: number; resetAt: number }>()
  private readonly bucketLimit: number
  private readonly bucketWindowMs: number
  private readonly nonceWindowMs: number
  private readonly server: Server
  private readonly routes: [string, RegExp, boolean, Handler][]
  /** `http://127.0.0.1:<port>/api`, for the REST client's `api` option. */
  api = ''

  constructor(options: FakeDiscordOptions = {}) {
    this.bucketLimit = options.bucketLimit ?? 1000
    this.bucketWindowMs = options.bucketWindowMs ?? 1000
    this.nonceWindowMs = options.nonceWindowMs ?? 120_000
    this.server = createServer((req, res) => {
      this.handle(req, res).catch(err => {
        res.statusCode = 500
        res.end(String(err))
      })
    })
    const botRole = snowflake()
    this.roles.set(botRole, { id: botRole, name: 'relay-bot', permissions: '309237664768' })
    this.botRoles.push(botRole)
    // [route, pattern, needs the bot token, handler]
    this.routes = [
      ['GET /guilds/:id/roles', /^\/guilds\/(\d+)\/roles$/, true, ([id]) => this.guildRoles(id!)],
      [
        'GET /guilds/:id/members/:id',
        /^\/guilds\/(\d+)\/members\/(\d+)$/,
        true,
        ([guild, user]) => this.guildMember(guild!, user!)
      ],
      ['GET /users/@me', /^\/users\/@me$/, true, () => ({ status: 200, body: this.bot })],
      ['GET /channels/:id', /^\/channels\/(\d+)$/, true, ([id]) => this.getChannel(id!)],
      [
        'POST /channels/:id/messages',
        /^\/channels\/(\d+)\/messages$/,
        true,
        ([id], r) => this.createMessage(id!, r.body)
      ],
      ['POST /channels/:id/threads', /^\/channels\/(\d+)\/threads$/, true, ([id], r) => this.startThread(id!, r.body)],
      ['GET /guilds/:id/threads/active', /^\/guilds\/(\d+)\/threads\/active$/, true, ([id]) => this.activeThreads(id!)],
      [
        'PATCH /channels/:id/messages/:id',
        /^\/channels\/(\d+)\/messages\/(\d+)$/,
        true,
        ([channel, message], r) => this.editMessage(channel!, message!, r.body)
      ],
      [
        'PUT /channels/:id/messages/:id/reactions/:emoji/@me',
        /^\/channels\/(\d+)\/messages\/(\d+)\/reactions\/([^/]+)\/@me$/,
        true,
        ([channel, message, emoji]) => this.react(channel!, message!, emoji!)
      ],
      [
        'POST /interactions/:id/:token/callback',
        /^\/interactions\/(\d+)\/([^/]+)\/callback$/,
        false,
        ([id, token], r) => this.interactionCallback(id!, token!, r.body)
      ],
      [
        'PATCH /webhooks/:id/:token/messages/:id',
        /^\/webhooks\/(\d+)\/([^/]+)\/messages\/(\d+|@original)$/,
        false,
        ([id, token, message], r) => this.editInteractionMessage(id!, token!, message!, r.body)
      ],
      [
        'GET /webhooks/:id/:token',
        /^\/webhooks\/(\d+)\/([^/]+)$/,
        false,
        ([id, token]) => this.getWebhook(id!, token!)
      ],
      [
        'POST /webhooks/:id/:token',
        /^\/webhooks\/(\d+)\/([^/]+)$/,
        false,
        ([id, token], r) =>
          this.interactions.get(token!)
            ? this.followUp(id!, token!, r.body)
            : this.executeWebhook(id!, token!, r.body, r.query)
      ]
    ]
  }

  async start(): Promise<this> {
    await new Promise<void>(resolve => this.server.listen(0, '127.0.0.1', resolve))
    this.api = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/api`
    return this
  }

  async close(): Promise<void> {
    this.server.closeAllConnections()
    await new Promise(resolve => this.server.close(resolve))
  }

  // ---- setting the scene -------------------------------------------------------------------

  addChannel(type: number, extra: Partial<FakeChannel> = {}): FakeChannel {
    const channel: FakeChannel = {
      id: snowflake(),
      type,
      guild_id: this.guildId,
      name: `channel-${this.channels.size}`,
      archived: false,
      locked: false,
      deleted: false,
      ...extra
    }
    this.channels.set(channel.id, channel)
    return channel
  }

  addWebhook(channelId: string): FakeWebhook & { url: string } {
    const hook: FakeWebhook = {
      id: snowflake(),
      token: `tok-${this.webhooks.size}-secret`,
      channel_id: channelId,
      guild_id: this.guildId,
      name: 'Relay hook'
    }
    this.webhooks.set(hook.id, hook)
    return { ...hook, url: `${this.api}/webhooks/${hook.id}/${hook.token}` }
  }

  threadsOf(parentId: string): FakeChannel[] {
    return [...this.channels.values()].filter(c => c.parent_id === parentId)
  }

  messagesIn(channelId: string): CreatedMessage[] {
    return this.messages.filter(m => m.channel_id === channelId)
  }

  archive(threadId: string, locked = false): void {
    const thread = this.channels.get(threadId)!
    thread.archived = true
    thread.locked = locked
  }

  remove(channelId: string): void {
    this.channels.get(channelId)!.deleted = true
  }

  // ---- faults ---------------------------------------------------------------------------------

  /** The next `count` matching requests fail as `fault` says. */
  failNext(count: number, fault: Fault = {}): void {
    this.faults.push({ ...fault, left: count })
  }

  /** Each request fails with a 500 (before any work) with this probability. */
  failRandomly(share: number, random: () => number = Math.random): void {
    this.failShare = share
    this.random = random
  }

  /** The next `count` matching requests get a 429. */
  rateLimitNext(count: number, limit: RateLimit): void {
    this.rateLimits.push({ ...limit, left: count })
  }

  // ---- the server ----------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake')
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const raw = Buffer.concat(chunks).toString('utf8')
    let body: any
    try {
      body = raw ? JSON.parse(raw) : undefined
    } catch {
      return this.send(res, { status: 400, body: { code: 50109, message: 'The request body contains invalid JSON.' } })
    }
    const method = req.method ?? 'GET'
    const path = decodeURIComponent(url.pathname).replace(/^\/api\/v10(?=\/)/, '')
    const found = url.pathname.startsWith('/api/v10/')
      ? this.routes
          .map(([route, pattern, auth, handler]) => ({
            route,
            auth,
            handler,
            match: route.startsWith(method + ' ') ? pattern.exec(path) : null
          }))
          .find(r => r.match)
      : undefined
    const recorded: RecordedRequest = {
      method,
      route: found?.route ?? `${method} ${path}`,
      path,
      query: url.searchParams,
      body,
      status: 0
    }
    this.requests.push(recorded)
    const answer = (a: Answer, drop = false) => {
      recorded.status = a.status
      if (drop) {
        res.socket?.destroy()
        return
      }
      this.send(res, a)
    }
    if (!found) return answer(error(404, 0, '404: Not Found'))
    if (found.auth && req.headers.authorization !== `Bot ${this.token}`)
      return answer(error(401, 0, '401: Unauthorized'))

    const limited = this.rateLimited(found.route, found.match!.slice(1), path)
    if (limited) return answer(limited)
    const fault = this.takeFault(found.route, path)
    if (fault && !fault.after) return answer(error(fault.status ?? 500, 0, 'Internal Server Error'), fault.drop)
    const result = found.handler(found.match!.slice(1), { body, query: url.searchParams, authorized: found.auth })
    if (fault?.after) return answer(error(fault.status ?? 500, 0, 'Internal Server Error'), fault.drop)
    answer({ ...result, headers: { ...this.bucketHeaders(found.route, found.match!.slice(1)), ...result.headers } })
  }

  private send(res: ServerResponse, answer: Answer): void {
    res.statusCode = answer.status
    for (const [name, value] of Object.entries(answer.headers ?? {})) res.setHeader(name, value)
    if (answer.body === undefined) {
      res.end()
      return
    }
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify(answer.body))
  }

  private takeFault(route: string, path: string): Fault | undefined {
    const fault = this.faults.find(
      f => f.left > 0 && (!f.route || f.route === route) && (!f.match || path.includes(f.match))
    )
    if (fault && (fault.skip ?? 0) > 0) fault.skip!--
    else if (fault) {
      fault.left--
      return fault
    }
    return this.failShare > 0 && this.random() < this.failShare ? { status: 500 } : undefined
  }

  /** Discord's buckets are per route and major parameter (channel, guild, webhook). */
  private bucketOf(route: string, params: string[]): string {
    return `${route}:${route.includes('/webhooks/') ? params.join('/') : (params[0] ?? '')}`
  }

  private bucketHeaders(route: string, params: string[]): Record<string, string> {
    const bucket = this.buckets.get(this.bucketOf(route, params))
    if (!bucket) return {}
    return {
      'x-ratelimit-limit': String(this.bucketLimit),
      'x-ratelimit-remaining': String(bucket.remaining),
      'x-ratelimit-reset-after': ((bucket.resetAt - Date.now()) / 1000).toFixed(3),
      'x-ratelimit-reset': (bucket.resetAt / 1000).toFixed(3),
      'x-ratelimit-bucket': Buffer.from(route).toString('hex').slice(0, 16)
    }
  }

  private tooMany(route: string, retryAfterMs: number, global: boolean, remaining = 0): Answer {
    const seconds = retryAfterMs / 1000
    // Real Discord rounds the Retry-After header up to whole seconds; the fake keeps the fraction so tests stay fast.
    const headers: Record<string, string> = {
      'retry-after': seconds.toFixed(3),
      'x-ratelimit-limit': String(this.bucketLimit),
      'x-ratelimit-remaining': String(remaining),
      'x-ratelimit-reset-after': seconds.toFixed(3),
      'x-ratelimit-reset': ((Date.now() + retryAfterMs) / 1000).toFixed(3),
      'x-ratelimit-bucket': Buffer.from(route).toString('hex').slice(0, 16),
      'x-ratelimit-scope': global ? 'global' : 'user'
    }
    if (global) headers['x-ratelimit-global'] = 'true'
    return { status: 429, headers, body: { message: 'You are being rate limited.', retry_after: seconds, global } }
  }

  private rateLimited(route: string, params: string[], path: string): Answer | undefined {
    const forced = this.rateLimits.find(
      l => l.left > 0 && (!l.route || l.route === route) && (!l.match || path.includes(l.match))
    )
    if (forced && (forced.skip ?? 0) > 0) forced.skip!--
    else if (forced) {
      forced.left--
      return this.tooMany(route, forced.retryAfterMs, forced.global ?? false)
    }
    const key = this.bucketOf(route, params)
    const now = Date.now()
    let bucket = this.buckets.get(key)
    if (!bucket || now >= bucket.resetAt) {
      bucket = { remaining: this.bucketLimit, resetAt: now + this.bucketWindowMs }
      this.buckets.set(key, bucket)
    }
    if (bucket.remaining === 0) return this.tooMany(route, bucket.resetAt - now, false)
    bucket.remaining--
    return undefined
  }

  // ---- validation, as strict as Discord --------------------------------------------------------

  /**
   * `webhook`: a channel webhook (not application-owned). `as`: a new message, an interaction's
   * answer or follow-up (which may be ephemeral), or an edit (fields optional).
   */
  private checkMessage(
    body: any,
    webhook: boolean,
    as: 'create' | 'interaction' | 'edit' = 'create'
  ): Answer | undefined {
    if (!body || typeof body !== 'object')
      return invalidForm({ _errors: [fieldError('DICT_TYPE_CONVERT', 'Only dictionaries may be used in a DictType')] })
    const errors: Record<string, unknown> = {}
    if (body.content !== undefined && typeof body.content !== 'string')
      errors.content = fieldError('BASE_TYPE_STRING', 'Must be a string.')
    else if (typeof body.content === 'string' && body.content.length > 2000)
      errors.content = fieldError('BASE_TYPE_MAX_LENGTH', 'Must be 2000 or fewer in length.')
    const embeds: Embed[] = body.embeds ?? []
    if (!Array.isArray(embeds)) errors.embeds = fieldError('BASE_TYPE_LIST', 'Must be a list.')
    else if (embeds.length > 10) errors.embeds = fieldError('BASE_TYPE_MAX_LENGTH', 'Must be 10 or fewer in length.')
    else {
      let total = 0
      const each: Record<string, unknown> = {}
      embeds.forEach((embed, i) => {
        const problems: Record<string, unknown> = {}
        const over = (field: string, text: string | undefined, max: number) => {
          if (text !== undefined && text.length > max)
            problems[field] = fieldError('BASE_TYPE_MAX_LENGTH', `Must be ${max} or fewer in length.`)
          total += text?.length ?? 0
        }
        over('title', embed.title, 256)
        over('description', embed.description, 4096)
        over('footer.text', embed.footer?.text, 2048)
        over('author.name', embed.author?.name, 256)
        if ((embed.fields ?? []).length > 25)
          problems.fields = fieldError('BASE_TYPE_MAX_LENGTH', 'Must be 25 or fewer in length.')
        for (const field of embed.fields ?? []) {
          over('fields.name', field.name, 256)
          over('fields.value', field.value, 1024)
        }
        if (Object.keys(problems).length > 0) each[i] = problems
      })
      if (Object.keys(each).length > 0) errors.embeds = each
      else if (total > 6000)
        errors.embeds = fieldError('MAX_EMBED_SIZE_EXCEEDED', 'Embed size exceeds maximum size of 6000')
    }
    // On create, Discord takes only SUPPRESS_EMBEDS (1 << 2) and SUPPRESS_NOTIFICATIONS (1 << 12);
    // an interaction's answer may also be EPHEMERAL (1 << 6).
    const allowedFlags = as === 'interaction' ? 4 | 4096 | 64 : 4 | 4096
    if (body.flags !== undefined && (!Number.isInteger(body.flags) || (body.flags & ~allowedFlags) !== 0))
      errors.flags = fieldError('MESSAGE_FLAGS_INVALID', 'Invalid flags.')
    if (!webhook && body.nonce !== undefined) {
      const ok = (typeof body.nonce === 'string' && body.nonce.length <= 25) || Number.isInteger(body.nonce)
      if (!ok) errors.nonce = fieldError('BASE_TYPE_MAX_LENGTH', 'Must be 25 or fewer in length.')
    }
    const mentions = body.allowed_mentions
    if (
      mentions !== undefined &&
      (typeof mentions !== 'object' ||
        (mentions.parse !== undefined &&
          (!Array.isArray(mentions.parse) ||
            mentions.parse.some((p: string) => !['users', 'roles', 'everyone'].includes(p)))))
    ) {
      errors.allowed_mentions = fieldError('BASE_TYPE_CHOICES', "Value must be one of {'users', 'roles', 'everyone'}.")
    } else if (mentions?.roles !== undefined) {
      if (
        !Array.isArray(mentions.roles) ||
        mentions.roles.some((r: unknown) => typeof r !== 'string' || !/^\d+$/.test(r))
      )
        errors.allowed_mentions = fieldError('BASE_TYPE_LIST', 'roles must be a list of snowflakes.')
      else if (mentions.parse?.includes('roles'))
        errors.allowed_mentions = fieldError('MUTUALLY_EXCLUSIVE', 'parse:["roles"] and roles are mutually exclusive.')
    }
    if (body.components !== undefined) {
      const problem = this.checkComponents(body.components, webhook)
      if (problem) errors.components = problem
    }
    if (webhook && body.username !== undefined) {
      const name = String(body.username)
      if (name.length < 1 || name.length > 80 || /discord|clyde/i.test(name))
        errors.username = fieldError(
          'USERNAME_INVALID',
          'Username cannot contain "discord" or "clyde" and must be 1-80 characters.'
        )
    }
    if (Object.keys(errors).length > 0) return invalidForm(errors)
    const hasComponents = Array.isArray(body.components) && body.components.length > 0
    if (
      as !== 'edit' &&
      !(typeof body.content === 'string' && body.content.trim() !== '') &&
      embeds.length === 0 &&
      !hasComponents
    )
      return error(400, 50006, 'Cannot send an empty message')
    return undefined
  }

  /** Action rows (type 1) of buttons (type 2), as Discord takes them on a message. */
  private checkComponents(rows: any, webhook: boolean): unknown {
    if (!Array.isArray(rows)) return fieldError('BASE_TYPE_LIST', 'Must be a list.')
    if (rows.length > 5) return fieldError('BASE_TYPE_MAX_LENGTH', 'Must be 5 or fewer in length.')
    const ids = new Set<string>()
    for (const [i, row] of rows.entries()) {
      if (row?.type !== 1)
        return { [i]: { type: fieldError('UNION_TYPE_CHOICES', 'Value of field "type" must be 1.') } }
      const buttons = row.components
      if (!Array.isArray(buttons) || buttons.length < 1 || buttons.length > 5)
        return { [i]: { components: fieldError('BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 5 in length.') } }
      for (const [j, b] of buttons.entries()) {
        const at = (problem: unknown) => ({ [i]: { components: { [j]: problem } } })
        if (b?.type !== 2) return at({ type: fieldError('COMPONENT_TYPE_INVALID', 'Only buttons go in this row.') })
        if (!Number.isInteger(b.style) || b.style < 1 || b.style > 5)
          return at({ style: fieldError('BASE_TYPE_CHOICES', 'Value must be one of (1, 2, 3, 4, 5).') })
        if (b.label !== undefined && (typeof b.label !== 'string' || b.label.length > 80))
          return at({ label: fieldError('BASE_TYPE_MAX_LENGTH', 'Must be 80 or fewer in length.') })
        if (b.style === 5) {
          if (typeof b.url !== 'string' || b.custom_id !== undefined)
            return at({
              url: fieldError('BUTTON_COMPONENT_URL_REQUIRED', 'A link button takes a url and no custom_id.')
            })
          continue
        }
        if (webhook)
          return at({
            custom_id: fieldError(
              'COMPONENT_INTERACTIVE_WEBHOOK',
              'Interactive components cannot be sent by non-application-owned webhooks.'
            )
          })
        if (typeof b.custom_id !== 'string' || b.custom_id.length < 1 || b.custom_id.length > 100)
          return at({ custom_id: fieldError('BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 100 in length.') })
        if (ids.has(b.custom_id))
          return at({
            custom_id: fieldError('COMPONENT_CUSTOM_ID_DUPLICATED', 'Component custom id cannot be duplicated')
          })
        ids.add(b.custom_id)
      }
    }
    return undefined
  }

  private checkThreadName(name: unknown): Answer | undefined {
    if (typeof name !== 'string' || name.length < 1 || name.length > 100)
      return invalidForm({ name: fieldError('BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 100 in length.') })
    return undefined
  }

  /** Which mentions would notify someone: allowed_mentions absent means all of them. */
  private pings(content: string | undefined, mentions: AllowedMentions | undefined): string[] {
    if (!content) return []
    const parse = mentions ? (mentions.parse ?? []) : ['users', 'roles', 'everyone']
    const pinged: string[] = []
    for (const m of content.matchAll(/@(everyone|here)|<@(!?)(\d+)>|<@&(\d+)>/g)) {
      if (m[1] && parse.includes('everyone')) pinged.push(m[0])
      else if (m[3] && (parse.includes('users') || mentions?.users?.includes(m[3]))) pinged.push(m[0])
      else if (m[4] && (parse.includes('roles') || mentions?.roles?.includes(m[4]))) pinged.push(m[0])
    }
    return pinged
  }

  // ---- resources -------------------------------------------------------------------------------

  /** A channel that exists: not deleted, and (for a thread) its parent not deleted either. */
  private find(id: string): FakeChannel | undefined {
    const channel = this.channels.get(id)
    if (!channel || channel.deleted) return undefined
    return channel.parent_id && !this.find(channel.parent_id) ? undefined : channel
  }

  private denied(channel: FakeChannel): Answer | undefined {
    const deny = channel.deny ?? (channel.parent_id ? this.channels.get(channel.parent_id)?.deny : undefined)
    if (deny === 50001) return error(403, 50001, 'Missing Access')
    if (deny === 50013) return error(403, 50013, 'Missing Permissions')
    return undefined
  }

  private guildRoles(guildId: string): Answer {
    if (guildId !== this.guildId) return error(404, 10004, 'Unknown Guild')
    return { status: 200, body: [...this.roles.values()] }
  }

  private guildMember(guildId: string, userId: string): Answer {
    if (guildId !== this.guildId) return error(404, 10004, 'Unknown Guild')
    if (userId !== this.bot.id) return error(404, 10007, 'Unknown Member')
    return { status: 200, body: { user: this.bot, roles: this.botRoles, joined_at: new Date(0).toISOString() } }
  }

  private view(channel: FakeChannel): Record<string, unknown> {
    const view: Record<string, unknown> = {
      id: channel.id,
      type: channel.type,
      guild_id: channel.guild_id,
      name: channel.name
    }
    if (!channel.parent_id) view.permission_overwrites = channel.permission_overwrites ?? []
    if (channel.parent_id) {
      view.parent_id = channel.parent_id
      view.owner_id = channel.owner_id
      view.thread_metadata = { archived: channel.archived, locked: channel.locked, auto_archive_duration: 1440 }
    }
    return view
  }

  private getChannel(id: string): Answer {
    const channel = this.find(id)
    if (!channel) return error(404, 10003, 'Unknown Channel')
    return this.denied(channel) ?? { status: 200, body: this.view(channel) }
  }

  private activeThreads(guildId: string): Answer {
    const threads = [...this.channels.values()].filter(
      c => c.guild_id === guildId && c.parent_id && !c.deleted && !c.archived
    )
    return { status: 200, body: { threads: threads.map(t => this.view(t)), members: [] } }
  }

  /** Where a message may go: a text channel or a thread (an archived unlocked one reopens). */
  private postable(channel: FakeChannel | undefined): Answer | undefined {
    if (!channel) return error(404, 10003, 'Unknown Channel')
    const denied = this.denied(channel)
    if (denied) return denied
    if (!TAKES_MESSAGES.includes(channel.type)) {
      return error(400, 50008, 'Cannot send messages in a non-text channel')
    }
    if (channel.archived && channel.locked) return error(400, 50083, 'Thread is archived')
    return undefined
  }

  private record(
    channelId: string,
    body: any,
    author: string,
    extra: Partial<CreatedMessage> = {},
    id = snowflake()
  ): CreatedMessage {
    const message: CreatedMessage = {
      id,
      channel_id: channelId,
      author_id: author,
      content: body.content,
      embeds: body.embeds ?? [],
      allowed_mentions: body.allowed_mentions,
      nonce: body.nonce,
      flags: body.flags,
      components: body.components,
      pinged: this.pings(body.content, body.allowed_mentions),
      createdAt: Date.now(),
      ...extra
    }
    this.messages.push(message)
    const channel = this.channels.get(channelId)
    if (channel) channel.archived = false
    return message
  }

  private createMessage(channelId: string, body: any): Answer {
    const channel = this.find(channelId)
    const refused = this.postable(channel) ?? this.checkMessage(body, false)
    if (refused) return refused
    if (body.enforce_nonce && body.nonce !== undefined) {
      const since = Date.now() - this.nonceWindowMs
      const earlier = this.messages.find(
        m => m.author_id === this.bot.id && m.nonce === body.nonce && m.createdAt >= since
      )
      if (earlier) return { status: 200, body: earlier }
    }
    return { status: 200, body: this.record(channelId, body, this.bot.id) }
  }

  private startThread(parentId: string, body: any): Answer {
    const parent = this.find(parentId)
    if (!parent) return error(404, 10003, 'Unknown Channel')
    const refused = this.denied(parent) ?? this.checkThreadName(body?.name)
    if (refused) return refused
    if (body.auto_archive_duration !== undefined && ![60, 1440, 4320, 10080].includes(body.auto_archive_duration)) {
      return invalidForm({
        auto_archive_duration: fieldError('BASE_TYPE_CHOICES', 'Value must be one of (60, 1440, 4320, 10080).')
      })
    }
    if (parent.type === ChannelType.Forum) {
      if (!body.message) return invalidForm({ message: fieldError('BASE_TYPE_REQUIRED', 'This field is required') })
      const bad = this.checkMessage(body.message, false)
      if (bad) return bad
      const thread = this.addChannel(ChannelType.PublicThread, {
        name: body.name,
        parent_id: parentId,
        owner_id: this.bot.id
      })
      // A forum post's first message has the post's id.
      const message = this.record(thread.id, { ...body.message, nonce: undefined }, this.bot.id, {}, thread.id)
      return { status: 201, body: { ...this.view(thread), message } }
    }
    const allowed: number[] =
      parent.type === ChannelType.Text
        ? [ChannelType.PublicThread, ChannelType.PrivateThread]
        : parent.type === ChannelType.Announcement
          ? [ChannelType.AnnouncementThread]
          : []
    if (allowed.length === 0) return error(400, 50024, 'Cannot execute action on this channel type')
    // Discord's default for a thread without a message is a private thread.
    const type = body.type ?? ChannelType.PrivateThread
    if (!allowed.includes(type))
      return invalidForm({ type: fieldError('BASE_TYPE_CHOICES', `Value must be one of (${allowed.join(', ')}).`) })
    const thread = this.addChannel(type, { name: body.name, parent_id: parentId, owner_id: this.bot.id })
    return { status: 201, body: this.view(thread) }
  }

  private webhookFor(id: string, token: string): FakeWebhook | Answer {
    const hook = this.webhooks.get(id)
    if (!hook) return error(404, 10015, 'Unknown Webhook')
    if (hook.token !== token) return error(401, 50027, 'Invalid Webhook Token')
    return hook
  }

  private getWebhook(id: string, token: string): Answer {
    const hook = this.webhookFor(id, token)
    return 'status' in hook ? hook : { status: 200, body: { type: 1, ...hook } }
  }

  private executeWebhook(id: string, token: string, body: any, query: URLSearchParams): Answer {
    const hook = this.webhookFor(id, token)
    if ('status' in hook) return hook
    const bad = this.checkMessage(body, true)
    if (bad) return bad
    const home = this.find(hook.channel_id)
    if (!home) return error(404, 10003, 'Unknown Channel')
    const threadId = query.get('thread_id')
    let target: string
    let id_: string | undefined
    if (threadId) {
      if (body.thread_name)
        return invalidForm({
          thread_name: fieldError('THREAD_NAME_AND_ID', 'Cannot use thread_name together with thread_id')
        })
      const thread = this.find(threadId)
      if (thread && thread.parent_id !== hook.channel_id)
        return error(400, 220002, 'Webhooks can only post in threads of their own channel')
      const refused = this.postable(thread)
      if (refused) return refused
      target = threadId
    } else if (body.thread_name !== undefined) {
      if (home.type !== ChannelType.Forum)
        return error(400, 220003, 'Webhooks can only create threads in forum channels')
      const badName = this.checkThreadName(body.thread_name)
      if (badName) return badName
      const thread = this.addChannel(ChannelType.PublicThread, {
        name: body.thread_name,
        parent_id: home.id,
        owner_id: hook.id
      })
      target = thread.id
      id_ = thread.id
    } else {
      if (home.type === ChannelType.Forum)
        return error(400, 220001, 'Webhooks posted to forum channels must have a thread_name or thread_id')
      target = home.id
    }
    const extra: Partial<CreatedMessage> = { webhook_id: hook.id, username: body.username, avatar_url: body.avatar_url }
    const message = this.record(target, { ...body, nonce: undefined }, hook.id, extra, id_)
    return query.get('wait') === 'true' ? { status: 200, body: message } : { status: 204 }
  }

  // ---- interactions: the fake as the sender of signed interactions ---------------------------------

  /** Which interaction types may be answered with which callback types. */
  private static readonly ANSWERS: Record<number, number[]> = { 1: [1], 3: [4, 5, 6, 7, 9], 5: [4, 5, 6, 7] }

  /** The application the interactions come from; its key pair signs them, as Discord does. */
  readonly application = (() => {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519')
    const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url')
    return { id: snowflake(), publicKey: raw.toString('hex'), privateKey }
  })()

  /** Interactions sent, by token. */
  readonly interactions = new Map<string, FakeInteraction>()

  /** Signs `timestamp + body` as Discord does; `key` defaults to the application's. */
  sign(timestamp: string, body: string, key: KeyObject = this.application.privateKey): string {
    return cryptoSign(null, Buffer.concat([Buffer.from(timestamp), Buffer.from(body)]), key).toString('hex')
  }

  /**
   * POSTs an interaction to the relay's Interactions Endpoint URL, signed, and checks the answer
   * as Discord would: a 200 whose body is not a valid answer for this interaction throws (Discord
   * would show "This interaction failed"). Other statuses are returned for the test to judge.
   */
  async interact(url: string, payload: Record<string, unknown>, options: SendOptions = {}): Promise<InteractionResult> {
    const body = JSON.stringify(payload)
    const timestamp = options.timestamp ?? String(Math.floor(Date.now() / 1000))
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'Discord-Interactions/1.0 (+https://discord.com)'
    }
    if (options.signature !== null) {
      headers['x-signature-ed25519'] =
        options.signature ?? this.sign(timestamp, options.signedBody ?? body, options.key)
      headers['x-signature-timestamp'] = timestamp
    }
    const started = Date.now()
    const response = await fetch(url, { method: 'POST', headers, body })
    const text = await response.text()
    const ms = Date.now() - started
    let answer: any
    try {
      answer = text ? JSON.parse(text) : undefined
    } catch {
      answer = text
    }
    const interaction = this.interactions.get(String(payload.token))
    if (response.status === 200 && interaction) {
      if (!response.headers.get('content-type')?.includes('application/json'))
        throw new Error(`interaction answered without a JSON content type: ${response.headers.get('content-type')}`)
      const refused = this.answerInteraction(interaction, answer)
      if (refused) throw new Error(`Discord would refuse this interaction answer: ${JSON.stringify(refused.body)}`)
    }
    const errorCode = response.headers.get('x-relay-error') ?? undefined
    return { status: response.status, body: answer, ms, interaction, errorCode }
  }

  /** A PING, as Discord sends to check the URL. */
  ping(url: string, options: SendOptions = {}): Promise<InteractionResult> {
    return this.interact(url, this.payload(1, {}), options)
  }

  /**
   * What Discord does when the Interactions Endpoint URL is saved: a PING that must be answered
   * with a PONG, and a wrongly signed one that must be refused with a 401.
   */
  async acceptsEndpoint(url: string): Promise<boolean> {
    const good = await this.ping(url)
    const bad = await this.ping(url, { signature: this.sign('1', 'forged') })
    return good.status === 200 && good.body?.type === 1 && bad.status === 401
  }

  /** A person clicks a button of a message the fake holds; the button must be there and enabled. */
  click(url: string, messageId: string, customId: string, options: ClickOptions = {}): Promise<InteractionResult> {
    const message = this.messages.find(m => m.id === messageId)
    if (!message) throw new Error(`no message ${messageId} to click on`)
    const button = message.components?.flatMap(row => row.components).find(b => b.custom_id === customId)
    if (!button) throw new Error(`message ${messageId} has no button ${customId}`)
    if (button.disabled) throw new Error(`button ${customId} is disabled: Discord would not send the click`)
    const payload = this.payload(3, {
      channelId: message.channel_id,
      message,
      user: options.user,
      guildId: options.guildId,
      data: { component_type: 2, custom_id: customId }
    })
    return this.interact(url, payload, options)
  }

  /** A person submits the modal an earlier interaction opened, with these values by input custom_id. */
  submit(
    url: string,
    opened: InteractionResult,
    values: Record<string, string>,
    options: SendOptions = {}
  ): Promise<InteractionResult> {
    const modal = opened.interaction?.modal
    if (!modal) throw new Error('that interaction opened no modal')
    const unknown = Object.keys(values).filter(id => !modal.inputs.some(input => input.custom_id === id))
    if (unknown.length > 0) throw new Error(`the modal has no input ${unknown.join(', ')}`)
    for (const input of modal.inputs) {
      const value = values[input.custom_id] ?? ''
      if ((input.required ?? true) && value === '') throw new Error(`input ${input.custom_id} is required`)
      if (value !== '' && (value.length < (input.min_length ?? 0) || value.length > (input.max_length ?? 4000)))
        throw new Error(
          `input ${input.custom_id} takes ${input.min_length ?? 0}–${input.max_length ?? 4000} characters`
        )
    }
    const from = opened.interaction!
    const message = from.messageId ? this.messages.find(m => m.id === from.messageId) : undefined
    const payload = this.payload(5, {
      channelId: from.channelId,
      message,
      user: from.user,
      guildId: from.guildId,
      data: {
        custom_id: modal.custom_id,
        components: modal.inputs.map(input => ({
          type: 1,
          components: [{ type: 4, custom_id: input.custom_id, value: values[input.custom_id] ?? '' }]
        }))
      }
    })
    return this.interact(url, payload, options)
  }

  /** An interaction payload as Discord builds it (API v10), remembered by its token. */
  payload(
    type: 1 | 3 | 5,
    fields: {
      channelId?: string
      message?: CreatedMessage
      user?: InteractionUser
      guildId?: string
      data?: Record<string, unknown>
    }
  ): Record<string, unknown> {
    const id = snowflake()
    const token = `itok-${id}-${Math.random().toString(36).slice(2)}`
    const user = fields.user ?? { id: '100000000000000001', username: 'agent', global_name: 'Agent' }
    const channel = fields.channelId ? this.channels.get(fields.channelId) : undefined
    const guildId = fields.guildId ?? channel?.guild_id
    this.interactions.set(token, {
      id,
      token,
      type,
      channelId: fields.channelId,
      guildId,
      messageId: fields.message?.id,
      user,
      at: Date.now(),
      answered: false
    })
    const payload: Record<string, unknown> = {
      id,
      application_id: this.application.id,
      type,
      token,
      version: 1,
      locale: 'en-US',
      entitlements: []
    }
    if (type === 1) return { ...payload, user: { id: user.id, username: user.username } }
    if (guildId) {
      payload.guild_id = guildId
      payload.guild_locale = 'en-US'
      payload.member = {
        user,
        roles: [],
        nick: null,
        permissions: '2248473465835073',
        joined_at: new Date(0).toISOString()
      }
    } else payload.user = user
    if (channel) {
      payload.channel_id = channel.id
      payload.channel = this.view(channel)
    }
    payload.app_permissions = '2248473465835073'
    if (fields.message) {
      const { id: messageId, channel_id, content, embeds, components } = fields.message
      payload.message = { id: messageId, channel_id, content: content ?? '', embeds, components: components ?? [] }
    }
    if (fields.data) payload.data = fields.data
    return payload
  }

  /** Messages posted in a channel as interaction answers, including ephemeral ones. */
  answersIn(channelId: string): CreatedMessage[] {
    return this.messages.filter(m => m.channel_id === channelId && m.interaction_id)
  }

  private answerInteraction(interaction: FakeInteraction, answer: any): Answer | undefined {
    if (interaction.answered) return error(400, 40060, 'Interaction has already been acknowledged.')
    if (!answer || typeof answer !== 'object' || !Number.isInteger(answer.type))
      return invalidForm({ type: fieldError('BASE_TYPE_REQUIRED', 'This field is required') })
    if (!FakeDiscord.ANSWERS[interaction.type]!.includes(answer.type))
      return error(400, 50035, `Interaction type ${interaction.type} cannot be answered with type ${answer.type}`)
    if ((answer.type === 6 || answer.type === 7) && !interaction.messageId)
      return error(400, 50035, 'Only an interaction on a message can update it')
    const data = answer.data
    if (answer.type === 4) {
      const bad = this.checkMessage(data, false, 'interaction')
      if (bad) return bad
    }
    if (answer.type === 7) {
      const bad = this.checkMessage(data ?? {}, false, 'edit')
      if (bad) return bad
    }
    if (answer.type === 9) {
      const bad = this.checkModal(data)
      if (bad) return bad
    }
    interaction.answered = true
    interaction.response = answer
    if (answer.type === 4) {
      const posted = this.record(interaction.channelId!, data, this.bot.id, {
        interaction_id: interaction.id,
        ephemeral: ((data.flags ?? 0) & 64) !== 0
      })
      interaction.responseMessageId = posted.id
    }
    if (answer.type === 7) this.applyEdit(this.messages.find(m => m.id === interaction.messageId)!, data ?? {})
    if (answer.type === 9)
      interaction.modal = {
        custom_id: data.custom_id,
        title: data.title,
        inputs: data.components.map((row: any) => row.components[0])
      }
    return undefined
  }

  /** A modal: 1–5 action rows of one text input each. */
  private checkModal(data: any): Answer | undefined {
    const bad = (field: string, message: string) =>
      invalidForm({ data: { [field]: fieldError('MODAL_INVALID', message) } })
    if (!data || typeof data !== 'object') return bad('_', 'A modal needs data')
    if (typeof data.custom_id !== 'string' || data.custom_id.length < 1 || data.custom_id.length > 100)
      return bad('custom_id', 'Must be between 1 and 100 in length.')
    if (typeof data.title !== 'string' || data.title.length < 1 || data.title.length > 45)
      return bad('title', 'Must be between 1 and 45 in length.')
    if (!Array.isArray(data.components) || data.components.length < 1 || data.components.length > 5)
      return bad('components', 'Must be between 1 and 5 in length.')
    for (const row of data.components) {
      if (row?.type !== 1 || !Array.isArray(row.components) || row.components.length !== 1)
        return bad('components', 'Each row holds exactly one text input.')
      const input = row.components[0]
      if (input?.type !== 4) return bad('components', 'Only text inputs (type 4) go in a modal row.')
      if (typeof input.custom_id !== 'string' || input.custom_id.length < 1 || input.custom_id.length > 100)
        return bad('components', 'A text input needs a custom_id of 1 to 100 characters.')
      if (input.style !== 1 && input.style !== 2) return bad('components', 'style must be 1 (short) or 2 (paragraph).')
      if (typeof input.label !== 'string' || input.label.length < 1 || input.label.length > 45)
        return bad('components', 'label must be between 1 and 45 in length.')
      if (input.max_length !== undefined && (input.max_length < 1 || input.max_length > 4000))
        return bad('components', 'max_length must be between 1 and 4000.')
      if (input.min_length !== undefined && (input.min_length < 0 || input.min_length > 4000))
        return bad('components', 'min_length must be between 0 and 4000.')
      if (input.placeholder !== undefined && String(input.placeholder).length > 100)
        return bad('components', 'placeholder must be 100 or fewer in length.')
    }
    return undefined
  }

  private applyEdit(message: CreatedMessage, body: any): void {
    if (body.content !== undefined) message.content = body.content
    if (body.embeds !== undefined) message.embeds = body.embeds
    if (body.components !== undefined) message.components = body.components
    if (body.allowed_mentions !== undefined) message.allowed_mentions = body.allowed_mentions
    message.edits = (message.edits ?? 0) + 1
  }

  private interactionCallback(id: string, token: string, body: any): Answer {
    const interaction = this.interactions.get(token)
    if (!interaction || interaction.id !== id) return error(404, 10062, 'Unknown interaction')
    return this.answerInteraction(interaction, body) ?? { status: 204 }
  }

  /** The interaction's webhook: follow-ups for 15 minutes after it was answered. */
  private interactionHook(appId: string, token: string): FakeInteraction | Answer {
    const interaction = this.interactions.get(token)
    if (!interaction || appId !== this.application.id || !interaction.answered)
      return error(404, 10015, 'Unknown Webhook')
    if (Date.now() - interaction.at > 15 * 60_000) return error(401, 50027, 'Invalid Webhook Token')
    return interaction
  }

  private followUp(appId: string, token: string, body: any): Answer {
    const interaction = this.interactionHook(appId, token)
    if ('status' in interaction) return interaction
    const bad = this.checkMessage(body, false, 'interaction')
    if (bad) return bad
    const posted = this.record(interaction.channelId!, body, this.bot.id, {
      interaction_id: interaction.id,
      ephemeral: ((body.flags ?? 0) & 64) !== 0
    })
    return { status: 200, body: posted }
  }

  private editInteractionMessage(appId: string, token: string, messageId: string, body: any): Answer {
    const interaction = this.interactionHook(appId, token)
    if ('status' in interaction) return interaction
    const id = messageId === '@original' ? interaction.responseMessageId : messageId
    const message = this.messages.find(m => m.id === id && m.interaction_id === interaction.id)
    if (!message) return error(404, 10008, 'Unknown Message')
    const bad = this.checkMessage(body, false, 'edit')
    if (bad) return bad
    this.applyEdit(message, body)
    return { status: 200, body: message }
  }

  private editMessage(channelId: string, messageId: string, body: any): Answer {
    const channel = this.find(channelId)
    if (!channel) return error(404, 10003, 'Unknown Channel')
    const message = this.messages.find(m => m.id === messageId && m.channel_id === channelId)
    if (!message) return error(404, 10008, 'Unknown Message')
    if (message.author_id !== this.bot.id) return error(403, 50005, 'Cannot edit a message authored by another user')
    const refused = this.denied(channel) ?? this.checkMessage(body, false, 'edit')
    if (refused) return refused
    if (channel.archived && channel.locked) return error(400, 50083, 'Thread is archived')
    this.applyEdit(message, body)
    return { status: 200, body: message }
  }

  private react(channelId: string, messageId: string, emoji: string): Answer {
    const channel = this.find(channelId)
    if (!channel) return error(404, 10003, 'Unknown Channel')
    const message = this.messages.find(m => m.id === messageId && m.channel_id === channelId)
    if (!message) return error(404, 10008, 'Unknown Message')
    // A Unicode emoji, or a custom one as name:id.
    if (!/^\p{Extended_Pictographic}/u.test(emoji) && !/^\w+:\d+$/.test(emoji))
      return error(400, 10014, 'Unknown Emoji')
    const denied = this.denied(channel)
    if (denied) return denied
    message.reactions ??= []
    if (!message.reactions.includes(emoji)) message.reactions.push(emoji)
    return { status: 204 }
  }
}

// ---- driving a relay against the fake, as the core would ------------------------------------------

/**
 * Delivers like the core: a `retry` outcome is tried again (after its retryAfterMs, kept short
 * by the tests) until it is delivered or failed, or `attempts` run out.
 */
export async function deliverAsCore(
  relay: Relay,
  message: RelayMessage,
  state: ConversationState,
  attempts = 5
): Promise<{ outcome: DeliveryOutcome; outcomes: DeliveryOutcome[] }> {
  const outcomes: DeliveryOutcome[] = []
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const outcome = await deliverOne(relay, message, deliveryContext(state, { attempt }))
    outcomes.push(outcome)
    if (outcome.status !== 'retry') return { outcome, outcomes }
    await new Promise(resolve => setTimeout(resolve, Math.min(outcome.retryAfterMs ?? 0, 500)))
  }
  return { outcome: outcomes[outcomes.length - 1]!, outcomes }
}
