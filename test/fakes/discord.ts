import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { RelayMessage } from '../../src/message.js'
import type { ConversationState, DeliveryContext, DeliveryOutcome, Relay, RelayLogger } from '../../src/relays/types.js'

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
    // [route, pattern, needs the bot token, handler]
    this.routes = [
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
        'GET /webhooks/:id/:token',
        /^\/webhooks\/(\d+)\/([^/]+)$/,
        false,
        ([id, token]) => this.getWebhook(id!, token!)
      ],
      [
        'POST /webhooks/:id/:token',
        /^\/webhooks\/(\d+)\/([^/]+)$/,
        false,
        ([id, token], r) => this.executeWebhook(id!, token!, r.body, r.query)
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

  private checkMessage(body: any, webhook: boolean): Answer | undefined {
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
    // On create, Discord takes only SUPPRESS_EMBEDS (1 << 2) and SUPPRESS_NOTIFICATIONS (1 << 12).
    if (body.flags !== undefined && (!Number.isInteger(body.flags) || (body.flags & ~(4 | 4096)) !== 0))
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
    if (!(typeof body.content === 'string' && body.content.trim() !== '') && embeds.length === 0)
      return error(400, 50006, 'Cannot send an empty message')
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

  private view(channel: FakeChannel): Record<string, unknown> {
    const view: Record<string, unknown> = {
      id: channel.id,
      type: channel.type,
      guild_id: channel.guild_id,
      name: channel.name
    }
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
}

// ---- driving a relay against the fake, as the core would ------------------------------------------

export interface LogLine {
  level: 'debug' | 'info' | 'warn' | 'error'
  obj: unknown
  msg?: string
}

/** A logger that keeps what it was told, for "logged once" assertions. */
export function recordingLogger(): RelayLogger & { lines: LogLine[] } {
  const lines: LogLine[] = []
  const at = (level: LogLine['level']) => (obj: object | string, msg?: string) => {
    lines.push({ level, obj, msg })
  }
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }
}

let messageCount = 0
/** A RelayMessage as the core hands it to a relay. */
export function relayMessage(fields: Partial<RelayMessage> = {}): RelayMessage {
  messageCount++
  return {
    source: 'default',
    messageId: `msg-${messageCount}`,
    conversationId: 'conv-1',
    type: 'ANSWER',
    flowOutput: [],
    createdAt: Date.now(),
    receivedAt: Date.now(),
    format: 'v1',
    ...fields
  }
}

export function deliveryContext(
  state: ConversationState,
  attempt = 1,
  logger: RelayLogger = recordingLogger()
): DeliveryContext {
  return { state, attempt, signal: new AbortController().signal, logger }
}

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
    const outcome = await relay.deliver(message, deliveryContext(state, attempt))
    outcomes.push(outcome)
    if (outcome.status !== 'retry') return { outcome, outcomes }
    await new Promise(resolve => setTimeout(resolve, Math.min(outcome.retryAfterMs ?? 0, 500)))
  }
  return { outcome: outcomes[outcomes.length - 1]!, outcomes }
}
