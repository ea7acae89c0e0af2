import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

/*
 * GPTBots' API on loopback (../../../shared/gptbots/README.md), as strict as what is known of it.
 * The human API: POST only, JSON only, `Authorization: Bearer <key>` checked, the body's fields
 * checked, and a handoff it does not know (or closed) refused. Reading back: the conversation list
 * (GET /v1/bot/conversation/page) and a conversation's messages (GET /v2/messages), paged, with
 * their documented parameters checked (page from 1, page_size 1 to 100, conversation_type
 * required and known), a wrong key answered 401 with code 40127, a bad parameter 400 with code
 * 40000. Tests tell it to fail with a status (and Retry-After), hang, or answer an error code.
 */

export const fakeApiKey = 'app-fake-gptbots-key-0123456789'

export interface ReceivedReply {
  conversationId: string
  timestamp: number
  text: string
}

/** A message as GET /v2/messages gives it. */
export interface FakeApiMessage {
  message_id: string
  parent_message_id?: string
  /** ms */
  create_time: number
  role: 'user' | 'assistant' | string
  content: { branch_content: ({ type: 'text'; text: string } | { type: string; [field: string]: unknown })[] }[]
}

export interface FakeConversation {
  conversation_id: string
  user_id: string
  conversation_type: string
  /** ms: the last message's create_time */
  recent_chat_time: number
  messages: FakeApiMessage[]
}

const conversationTypes = new Set([
  'ALL',
  'API',
  'EMBED',
  'WIDGET',
  'SHARE',
  'SLACK',
  'DISCORD',
  'TELEGRAM',
  'WHATSAPP_META'
])

export type Fault =
  /** Answer this HTTP status, with GPTBots' `{code, message}` body. */
  | { status: number; retryAfter?: string }
  /** Never answer (until the fake closes). */
  | { hang: true }
  /** HTTP 200 with this error code in the body. */
  | { code: number; message: string }

export class FakeGptbots {
  /** Replies received and accepted, in order of arrival. */
  readonly replies: ReceivedReply[] = []
  /** Called as each reply is accepted (the bench times arrivals with it). */
  onAccepted?: (reply: ReceivedReply) => void
  /** Handoffs closed by the human side, in order. */
  readonly closed: string[] = []
  /** Every request, accepted or not: path, status answered, and whether it carried the right key. */
  readonly requests: { method: string; path: string; query: string; status: number; authorized: boolean }[] = []
  /** Conversations that can be read back, by id. */
  readonly conversations = new Map<string, FakeConversation>()
  /** The key it accepts (another fake can stand for another bot). */
  apiKey = fakeApiKey
  /** Bot answers (message ids) that feedback and quality may name; others change nothing (affectCount 0). */
  readonly answers = new Set<string>()
  /** Feedback and quality calls taken, in order. */
  readonly judgements: { answerId: string; call: 'feedback' | 'quality'; value: string }[] = []
  /** Handoffs the fake knows as open; unknown ones are refused with code 404 in the body. */
  readonly open = new Set<string>()
  #faults: Fault[] = []
  #hanging: ServerResponse[] = []
  #onReply?: () => void

  private constructor(private readonly server: Server) {}

  static async start(options: { apiKey?: string } = {}): Promise<FakeGptbots> {
    const server = createServer()
    const fake = new FakeGptbots(server)
    if (options.apiKey) fake.apiKey = options.apiKey
    server.on('request', (req, res) => {
      fake.#handle(req, res).catch(error => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' })
        res.end(String(error))
      })
    })
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    return fake
  }

  get apiUrl(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`
  }

  /**
   * A conversation with `count` messages, alternately the user's and the assistant's, one second
   * apart from `start` (ms); its ids are `<id>-m1`, `<id>-m2`, ...
   */
  addConversation(id: string, count: number, start: number, type = 'API'): FakeConversation {
    const messages: FakeApiMessage[] = []
    for (let i = 1; i <= count; i++) {
      const role = i % 2 === 1 ? 'user' : 'assistant'
      messages.push({
        message_id: `${id}-m${i}`,
        ...(i > 1 ? { parent_message_id: `${id}-m${i - 1}` } : {}),
        create_time: start + (i - 1) * 1000,
        role,
        content: [
          { branch_content: [{ type: 'text', text: `${role === 'user' ? 'question' : 'answer'} ${i} of ${id}` }] }
        ]
      })
    }
    return this.putConversation({
      conversation_id: id,
      user_id: `user-of-${id}`,
      conversation_type: type,
      recent_chat_time: messages.at(-1)?.create_time ?? start,
      messages
    })
  }

  putConversation(conversation: FakeConversation): FakeConversation {
    this.conversations.set(conversation.conversation_id, conversation)
    return conversation
  }

  /** Requests to one path. */
  calls(path: string): { method: string; path: string; query: string; status: number; authorized: boolean }[] {
    return this.requests.filter(r => r.path === path)
  }

  /** The next requests meet these faults, one each, in order. */
  fail(...faults: Fault[]): void {
    this.#faults.push(...faults)
  }

  /** Resolves once `count` replies have been accepted in all. */
  async waitForReplies(count: number): Promise<void> {
    while (this.replies.length < count) await new Promise<void>(resolve => (this.#onReply = resolve))
  }

  async close(): Promise<void> {
    for (const res of this.#hanging) res.destroy()
    this.server.closeAllConnections()
    await new Promise<void>(resolve => this.server.close(() => resolve()))
  }

  // GPTBots' feedback and quality calls: the answer must be one it knows, the value one of its enum.
  #judge(path: string, raw: Buffer): { status: number; body: object } {
    const invalid = { status: 400, body: { code: 40000, message: 'invalid parameter' } }
    let body: Record<string, unknown>
    try {
      body = JSON.parse(raw.toString('utf8')) as Record<string, unknown>
    } catch {
      return invalid
    }
    const call = path === '/v1/message/feedback' ? 'feedback' : 'quality'
    const allowed =
      call === 'feedback'
        ? ['POSITIVE', 'NEGATIVE', 'CANCELED']
        : ['NONE', 'UNRESOLVED', 'PARTIALLY_RESOLVED', 'FULLY_RESOLVED']
    const value = body[call]
    if (typeof body.answer_id !== 'string' || typeof value !== 'string' || !allowed.includes(value)) return invalid
    if (!this.answers.has(body.answer_id)) return { status: 200, body: { affectCount: 0 } }
    this.judgements.push({ answerId: body.answer_id, call, value })
    return { status: 200, body: { affectCount: 1 } }
  }

  #answer(res: ServerResponse, path: string, authorized: boolean, status: number, body: object, headers = {}): void {
    const url = new URL(res.req.url ?? '/', 'http://fake')
    this.requests.push({ method: res.req.method ?? '', path, query: url.search, status, authorized })
    res.writeHead(status, { 'content-type': 'application/json', ...headers })
    res.end(JSON.stringify(body))
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://fake').pathname
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const authorized = req.headers.authorization === `Bearer ${this.apiKey}`
    if (req.method === 'GET' && (path === '/v1/bot/conversation/page' || path === '/v2/messages'))
      return this.#read(req, res, path, authorized)
    if (req.method !== 'POST')
      return this.#answer(res, path, authorized, 405, { code: 405, message: 'method not allowed' })
    if (path === '/v1/message/feedback' || path === '/v1/message/quality') {
      if (!authorized)
        return this.#answer(res, path, authorized, 401, { code: 40127, message: 'developer authentication failed' })
      const fault = this.#faults.shift()
      if (fault && 'status' in fault)
        return this.#answer(res, path, authorized, fault.status, { code: fault.status, message: 'injected failure' })
      if (fault && 'code' in fault)
        return this.#answer(res, path, authorized, 200, { code: fault.code, message: fault.message })
      const judged = this.#judge(path, Buffer.concat(chunks))
      return this.#answer(res, path, authorized, judged.status, judged.body)
    }
    if (path !== '/v1/human/message/receive' && path !== '/v1/human/close')
      return this.#answer(res, path, authorized, 404, { code: 404, message: 'not found' })
    if (!authorized) return this.#answer(res, path, authorized, 401, { code: 401, message: 'invalid api key' })
    if (!(req.headers['content-type'] ?? '').startsWith('application/json'))
      return this.#answer(res, path, authorized, 415, { code: 415, message: 'content-type must be application/json' })
    const fault = this.#faults.shift()
    if (fault && 'hang' in fault) {
      this.requests.push({ method: req.method ?? '', path, query: '', status: 0, authorized })
      this.#hanging.push(res)
      return
    }
    if (fault && 'status' in fault)
      return this.#answer(
        res,
        path,
        authorized,
        fault.status,
        { code: fault.status, message: 'injected failure' },
        fault.retryAfter ? { 'retry-after': fault.retryAfter } : {}
      )
    if (fault) return this.#answer(res, path, authorized, 200, { code: fault.code, message: fault.message })
    let body: Record<string, unknown>
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>
    } catch {
      return this.#answer(res, path, authorized, 400, { code: 400, message: 'body is not JSON' })
    }
    const { conversation_id: id, timestamp } = body
    if (typeof id !== 'string' || id === '' || typeof timestamp !== 'number')
      return this.#answer(res, path, authorized, 400, { code: 400, message: 'conversation_id and timestamp required' })
    if (!this.open.has(id))
      return this.#answer(res, path, authorized, 200, { code: 40404, message: 'conversation not in human service' })
    if (path === '/v1/human/close') {
      this.open.delete(id)
      this.closed.push(id)
      return this.#answer(res, path, authorized, 200, { code: 200, message: 'success' })
    }
    if (typeof body.body !== 'string' || body.body === '')
      return this.#answer(res, path, authorized, 400, { code: 400, message: 'body required' })
    const reply = { conversationId: id, timestamp, text: body.body }
    this.replies.push(reply)
    this.#onReply?.()
    this.onAccepted?.(reply)
    return this.#answer(res, path, authorized, 200, { code: 200, message: 'success' })
  }

  /** The two read calls: key, then injected faults, then parameters, then the page. */
  async #read(req: IncomingMessage, res: ServerResponse, path: string, authorized: boolean): Promise<void> {
    if (!authorized)
      return this.#answer(res, path, authorized, 401, { code: 40127, message: 'Developer authentication failed' })
    const fault = this.#faults.shift()
    if (fault && 'hang' in fault) {
      this.requests.push({ method: 'GET', path, query: '', status: 0, authorized })
      this.#hanging.push(res)
      return
    }
    if (fault && 'status' in fault)
      return this.#answer(
        res,
        path,
        authorized,
        fault.status,
        { code: fault.status, message: 'injected failure' },
        fault.retryAfter ? { 'retry-after': fault.retryAfter } : {}
      )
    if (fault) return this.#answer(res, path, authorized, 200, { code: fault.code, message: fault.message })
    const query = new URL(req.url ?? '/', 'http://fake').searchParams
    const invalid = (why: string) =>
      this.#answer(res, path, authorized, 400, { code: 40000, message: `Invalid parameter: ${why}` })
    const whole = (name: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined => {
      const text = query.get(name)
      if (text === null || !/^\d+$/.test(text)) return undefined
      const value = Number(text)
      return value >= min && value <= max ? value : undefined
    }
    const page = whole('page', 1)
    const pageSize = whole('page_size', 1, 100)
    if (page === undefined) return invalid('page must be a whole number from 1')
    if (pageSize === undefined) return invalid('page_size must be a whole number from 1 to 100')
    if (path === '/v1/bot/conversation/page') {
      const type = query.get('conversation_type')
      if (type === null || !conversationTypes.has(type)) return invalid('conversation_type')
      const start = query.has('start_time') ? whole('start_time', 0) : 0
      const end = query.has('end_time') ? whole('end_time', 0) : Number.MAX_SAFE_INTEGER
      if (start === undefined || end === undefined) return invalid('start_time and end_time are milliseconds')
      const found = [...this.conversations.values()]
        .filter(
          c =>
            (type === 'ALL' || c.conversation_type === type) && c.recent_chat_time >= start && c.recent_chat_time <= end
        )
        .sort((a, b) => b.recent_chat_time - a.recent_chat_time || a.conversation_id.localeCompare(b.conversation_id))
      const list = found.slice((page - 1) * pageSize, page * pageSize).map(({ messages, ...c }) => ({
        ...c,
        subject: `about ${c.conversation_id}`,
        message_count: messages.length,
        cost: 0
      }))
      return this.#answer(res, path, authorized, 200, { list, total: found.length })
    }
    const id = query.get('conversation_id')
    if (id === null || id === '') return invalid('conversation_id')
    const messages = this.conversations.get(id)?.messages ?? []
    return this.#answer(res, path, authorized, 200, {
      total: messages.length,
      conversation_content: messages.slice((page - 1) * pageSize, page * pageSize)
    })
  }
}
