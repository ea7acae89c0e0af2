import type { Config } from '../config/schema.js'
import { type Clock, systemClock } from '../clock.js'
import { parseRetryAfter } from '../relays/retry-after.js'
import { TokenBucket } from './pace.js'
import { MissingApiKey, readSourceKey, type SourceApiSettings, sourceApiSettings } from './settings.js'

/**
 * The one client of GPTBots' API (../../docs/backfill.md): the handoff desk's human API, reading
 * conversations back, feedback. Bearer auth with the source's key, calls paced per key, and every
 * failure classified; a wrong or missing key is an answer that names the source, never a throw.
 */

/** Why a call did not succeed, and whether trying again can help. */
export interface ApiFailure {
  ok: false
  /**
   * transient: 429, 5xx, a timeout, the network, an answer that cannot be read: try again.
   * credentials: the key is missing or GPTBots refused it: nothing goes until it is fixed.
   * permanent: GPTBots said this request will never succeed (bad parameter, bot deleted).
   */
  kind: 'transient' | 'credentials' | 'permanent'
  error: string
  /** The HTTP status, when GPTBots answered. */
  status?: number
  /** GPTBots' own error code from its `{code, message}` body (40000, 40127, 20059, ...). */
  code?: number
  retryAfterMs?: number
}

export type ApiAnswer<T> = { ok: true; body: T } | ApiFailure

/** A call that failed for good (after its retries, when it had some). */
export class GptbotsApiError extends Error {
  readonly kind: ApiFailure['kind']
  readonly source: string
  readonly status?: number
  readonly code?: number
  constructor(source: string, failure: ApiFailure) {
    super(failure.error)
    this.name = 'GptbotsApiError'
    this.kind = failure.kind
    this.source = source
    if (failure.status !== undefined) this.status = failure.status
    if (failure.code !== undefined) this.code = failure.code
  }
}

/** GPTBots' error codes with a meaning of their own; others start with the HTTP status they mean. */
const knownCodes: Record<number, { kind: ApiFailure['kind']; meaning: string }> = {
  40000: { kind: 'permanent', meaning: 'invalid parameter' },
  40127: { kind: 'credentials', meaning: 'developer authentication failed: the API key is wrong' },
  20059: { kind: 'permanent', meaning: 'the bot was deleted' }
}

/** GPTBots' longer error codes (40404, 50001) start with the HTTP status they mean. */
const httpLike = (code: number): number => {
  const digits = String(Math.trunc(Math.abs(code))).length
  return digits > 3 ? Math.trunc(code / 10 ** (digits - 3)) : code
}

const kindOfStatus = (status: number): ApiFailure['kind'] =>
  status === 401 || status === 403
    ? 'credentials'
    : status === 408 || status === 429 || status >= 500 || status < 400
      ? 'transient'
      : 'permanent'

/** GPTBots' own words about a failure, short, with its code, from its `{code, message}` body when it has one. */
function failureOf(status: number, text: string): { code?: number; said: string } {
  let said = text
  let code: number | undefined
  try {
    const body = JSON.parse(text) as { message?: unknown; msg?: unknown; code?: unknown }
    if (typeof body.code === 'number') code = body.code
    said = String(body.message ?? body.msg ?? text)
  } catch {
    /* not JSON: its text, cut */
  }
  said = said.replace(/\s+/g, ' ').trim().slice(0, 200)
  const known = code === undefined ? undefined : knownCodes[code]
  const words = `GPTBots answered HTTP ${status}${code !== undefined && code !== status ? ` code ${code}` : ''}${said ? `: ${said}` : ''}${known ? ` (${known.meaning})` : ''}`
  return code === undefined ? { said: words } : { code, said: words }
}

export interface ApiOptions {
  settings: SourceApiSettings
  /** The key, or why there is none. */
  key: { apiKey: string } | { problem: string }
  bucket: TokenBucket
  clock?: Clock
}

export type Query = Record<string, string | number | undefined>

/** One source's client of GPTBots' API. */
export class GptbotsApi {
  readonly source: string
  /** Calls that reached (or tried to reach) GPTBots, for figures. */
  calls = 0
  private readonly base: string
  private readonly clock: Clock

  constructor(private readonly options: ApiOptions) {
    this.source = options.settings.source
    this.base = options.settings.apiUrl.replace(/\/+$/, '')
    this.clock = options.clock ?? systemClock
  }

  /** Why this source cannot call GPTBots at all (no key), or undefined. */
  get keyProblem(): string | undefined {
    return 'problem' in this.options.key ? this.options.key.problem : undefined
  }

  private label(method: string, path: string): string {
    return `GPTBots API of source "${this.source}": ${method} ${path}`
  }

  /** One call, paced, its outcome classified; never throws (an aborted signal is a transient failure). */
  async call<T>(
    method: 'GET' | 'POST',
    path: string,
    input: { query?: Query; body?: object; tally?: { calls: number } } = {},
    signal?: AbortSignal
  ): Promise<ApiAnswer<T>> {
    const label = this.label(method, path)
    if ('problem' in this.options.key)
      return { ok: false, kind: 'credentials', error: `${label}: ${this.options.key.problem}` }
    const { timeoutMs } = this.options.settings
    try {
      await this.options.bucket.take(signal)
    } catch {
      return { ok: false, kind: 'transient', error: `${label}: given up before it was sent` }
    }
    const url = new URL(`${this.base}${path}`)
    for (const [name, value] of Object.entries(input.query ?? {}))
      if (value !== undefined) url.searchParams.set(name, String(value))
    const timeout = AbortSignal.timeout(timeoutMs)
    let response: Response
    let text: string
    this.calls++
    if (input.tally) input.tally.calls++
    try {
      response = await fetch(url, {
        method,
        headers: {
          authorization: `Bearer ${this.options.key.apiKey}`,
          accept: 'application/json',
          ...(input.body ? { 'content-type': 'application/json' } : {})
        },
        body: input.body ? JSON.stringify(input.body) : undefined,
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout
      })
      text = await response.text()
    } catch (error) {
      const cause = (error as Error).cause
      const reason = timeout.aborted
        ? `GPTBots did not answer within ${timeoutMs} ms`
        : `GPTBots could not be reached: ${cause instanceof Error ? cause.message : (error as Error).message}`
      return { ok: false, kind: 'transient', error: `${label}: ${reason}` }
    }
    const { status } = response
    if (status >= 200 && status < 300) {
      let body: unknown
      try {
        body = text === '' ? {} : JSON.parse(text)
      } catch {
        return {
          ok: false,
          kind: 'transient',
          status,
          error: `${label}: GPTBots answered HTTP ${status} with a body that is not JSON`
        }
      }
      // GPTBots may answer 200 with an error code in the body.
      const code = (body as { code?: unknown } | null)?.code
      if (typeof code !== 'number' || code === 200 || code === 0) return { ok: true, body: body as T }
      const { said } = failureOf(status, text)
      const kind = knownCodes[code]?.kind ?? kindOfStatus(httpLike(code))
      return {
        ok: false,
        kind: kind === 'transient' || kind === 'credentials' ? kind : 'permanent',
        status,
        code,
        error: `${label}: ${said}`
      }
    }
    const { code, said } = failureOf(status, text)
    const kind = (code !== undefined ? knownCodes[code]?.kind : undefined) ?? kindOfStatus(status)
    const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), this.clock.now())
    if (status === 429 && retryAfterMs !== undefined) this.options.bucket.pauseUntil(this.clock.now() + retryAfterMs)
    return {
      ok: false,
      kind,
      status,
      error: `${label}: ${said}`,
      ...(code === undefined ? {} : { code }),
      ...(retryAfterMs === undefined || kind !== 'transient' ? {} : { retryAfterMs })
    }
  }

  /**
   * A call tried again while it fails transiently (429 after its Retry-After, 5xx and the network
   * with backoff), up to `gptbots.maxAttempts`. Throws GptbotsApiError when it fails for good.
   */
  async request<T>(
    method: 'GET' | 'POST',
    path: string,
    input: { query?: Query; body?: object; tally?: { calls: number } } = {},
    signal?: AbortSignal
  ): Promise<T> {
    const { maxAttempts } = this.options.settings
    for (let attempt = 1; ; attempt++) {
      const answer = await this.call<T>(method, path, input, signal)
      if (answer.ok) return answer.body
      if (answer.kind !== 'transient' || attempt >= maxAttempts || signal?.aborted) {
        const tries = attempt > 1 ? ` (after ${attempt} tries)` : ''
        throw new GptbotsApiError(this.source, { ...answer, error: `${answer.error}${tries}` })
      }
      const backoff = Math.min(30_000, 1000 * 2 ** (attempt - 1))
      await this.clock.sleep(answer.retryAfterMs ?? backoff, signal).catch(() => undefined)
    }
  }

  /** GET /v1/bot/conversation/page: conversations last active in a window (ms), one page. */
  conversationPage(
    input: { startTime: number; endTime: number; page: number; pageSize: number; conversationType?: string },
    signal?: AbortSignal,
    tally?: { calls: number }
  ): Promise<ConversationPage> {
    return this.request<ConversationPage>(
      'GET',
      '/v1/bot/conversation/page',
      {
        query: {
          conversation_type: input.conversationType ?? 'ALL',
          start_time: input.startTime,
          end_time: input.endTime,
          page: input.page,
          page_size: input.pageSize
        },
        tally
      },
      signal
    ).then(body => readable(body, 'list', this.label('GET', '/v1/bot/conversation/page'), this.source))
  }

  /** GET /v2/messages: one page of a conversation's messages. */
  messagePage(
    input: { conversationId: string; page: number; pageSize: number },
    signal?: AbortSignal,
    tally?: { calls: number }
  ): Promise<MessagePage> {
    return this.request<MessagePage>(
      'GET',
      '/v2/messages',
      { query: { conversation_id: input.conversationId, page: input.page, page_size: input.pageSize }, tally },
      signal
    ).then(body => readable(body, 'conversation_content', this.label('GET', '/v2/messages'), this.source))
  }
}

/** An answer whose list is not there is one the relay cannot read: a failure, not an empty page. */
function readable<T extends { total?: unknown }>(body: T, list: keyof T, label: string, source: string): T {
  if (body === null || typeof body !== 'object' || !Array.isArray(body[list]))
    throw new GptbotsApiError(source, {
      ok: false,
      kind: 'permanent',
      error: `${label}: GPTBots' answer has no "${String(list)}" list`
    })
  return body
}

/** One conversation as GET /v1/bot/conversation/page lists it. */
export interface ListedConversation {
  conversation_id: string
  user_id?: string
  /** ms */
  recent_chat_time?: number
  subject?: string
  conversation_type?: string
  message_count?: number
}

export interface ConversationPage {
  list: ListedConversation[]
  total?: number
}

/** One piece of a message's content as GET /v2/messages gives it. */
export type BranchContent =
  | { type: 'text'; text?: string }
  | { type: 'image'; image?: { url?: string; name?: string }[] }
  | { type: 'audio'; audio?: ({ url?: string; audio?: string; transcript?: string } | string)[] }
  | { type: 'document'; document?: { url?: string; name?: string }[] }
  | { type: string; [field: string]: unknown }

export interface ApiMessage {
  message_id: string
  parent_message_id?: string
  /** ms */
  create_time: number
  role: string
  feedback?: string
  content?: { branch_content?: BranchContent[] }[]
}

export interface MessagePage {
  total?: number
  conversation_content: ApiMessage[]
}

/**
 * Every source's client, with one pace per key (sources sharing a key share its limit). Every
 * source's key is read at start, so that each can be kept out of logs from the first line.
 */
export class GptbotsApis {
  private readonly clients = new Map<string, GptbotsApi>()
  private readonly keys = new Map<string, string>()

  constructor(options: { config: Config; configDir: string; env?: NodeJS.ProcessEnv; clock?: Clock }) {
    const clock = options.clock ?? systemClock
    const buckets = new Map<string, TokenBucket>()
    for (const source of ['default', ...Object.keys(options.config.auth.sources)]) {
      const settings = sourceApiSettings(options.config, source)
      let key: ApiOptions['key']
      try {
        key = { apiKey: readSourceKey(settings, options.configDir, options.env ?? process.env) }
        this.keys.set(source, key.apiKey)
      } catch (error) {
        if (!(error instanceof MissingApiKey)) throw error
        key = { problem: error.message }
      }
      // One bucket per key and address: the limit is GPTBots' per key.
      const bucketKey = `${settings.apiUrl}\n${'apiKey' in key ? key.apiKey : `none:${source}`}`
      let bucket = buckets.get(bucketKey)
      if (!bucket) {
        bucket = new TokenBucket(clock, settings.pace)
        buckets.set(bucketKey, bucket)
      }
      this.clients.set(source, new GptbotsApi({ settings, key, bucket, clock }))
    }
  }

  /** The sources that can be read back: `default` and every auth.sources name. */
  sources(): string[] {
    return [...this.clients.keys()]
  }

  /** The source's client; undefined for a source the config does not have. */
  for(source: string): GptbotsApi | undefined {
    return this.clients.get(source)
  }

  /** The key the source's client sends, or undefined when it has none: for the log scrubber. */
  keyOf(source: string): string | undefined {
    return this.keys.get(source)
  }

  /** Every key read, for the log scrubber. */
  allKeys(): string[] {
    return [...new Set(this.keys.values())]
  }

  /** Calls made by every source's client so far. */
  get calls(): number {
    let total = 0
    for (const client of this.clients.values()) total += client.calls
    return total
  }
}
