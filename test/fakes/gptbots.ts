import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

/*
 * GPTBots' human API on loopback (../../../shared/gptbots/README.md, "Human handoff"), as strict
 * as what is known of it: POST only, JSON only, `Authorization: Bearer <key>` checked, the body's
 * fields checked, and a handoff it does not know (or closed) refused. Tests tell it to fail with a
 * status, hang without answering, or reject with an error code in the body.
 */

export const fakeApiKey = 'app-fake-gptbots-key-0123456789'

export interface ReceivedReply {
  conversationId: string
  timestamp: number
  text: string
}

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
  readonly requests: { path: string; status: number; authorized: boolean }[] = []
  /** Handoffs the fake knows as open; unknown ones are refused with code 404 in the body. */
  readonly open = new Set<string>()
  #faults: Fault[] = []
  #hanging: ServerResponse[] = []
  #onReply?: () => void

  private constructor(private readonly server: Server) {}

  static async start(): Promise<FakeGptbots> {
    const server = createServer()
    const fake = new FakeGptbots(server)
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

  #answer(res: ServerResponse, path: string, authorized: boolean, status: number, body: object, headers = {}): void {
    this.requests.push({ path, status, authorized })
    res.writeHead(status, { 'content-type': 'application/json', ...headers })
    res.end(JSON.stringify(body))
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://fake').pathname
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const authorized = req.headers.authorization === `Bearer ${fakeApiKey}`
    if (req.method !== 'POST')
      return this.#answer(res, path, authorized, 405, { code: 405, message: 'method not allowed' })
    if (path !== '/v1/human/message/receive' && path !== '/v1/human/close')
      return this.#answer(res, path, authorized, 404, { code: 404, message: 'not found' })
    if (!authorized) return this.#answer(res, path, authorized, 401, { code: 401, message: 'invalid api key' })
    if (!(req.headers['content-type'] ?? '').startsWith('application/json'))
      return this.#answer(res, path, authorized, 415, { code: 415, message: 'content-type must be application/json' })
    const fault = this.#faults.shift()
    if (fault && 'hang' in fault) {
      this.requests.push({ path, status: 0, authorized })
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
}
