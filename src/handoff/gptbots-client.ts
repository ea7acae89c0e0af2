import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { ConfigError } from '../errors.js'
import type { HandoffConfig } from '../config/schema.js'

/** What a call to GPTBots' human API came to. */
export type ApiResult =
  | { ok: true }
  /** Worth trying again: 5xx, 429, a timeout, a network failure, an answer the relay cannot read. */
  | { ok: false; kind: 'transient'; error: string; retryAfterMs?: number }
  /** GPTBots refused the relay's key: no reply can go until it is fixed. */
  | { ok: false; kind: 'credentials'; error: string }
  /** GPTBots said this request will never succeed (a 4xx other than 401, 403, 408, 429). */
  | { ok: false; kind: 'permanent'; error: string }

export interface HumanApi {
  /** POST /v1/human/message/receive: the human's text for the user. */
  send(input: { conversationId: string; timestamp: number; text: string }, signal?: AbortSignal): Promise<ApiResult>
  /** POST /v1/human/close: the human ended the handoff. */
  close(input: { conversationId: string; timestamp: number }, signal?: AbortSignal): Promise<ApiResult>
}

/**
 * The GPTBots API key, from the environment variable or the file the config names; never from
 * the config itself. Throws a ConfigError that names where it looked (never the key).
 */
export function readApiKey(config: HandoffConfig, configDir: string, env: NodeJS.ProcessEnv): string {
  const { apiKeyFile, apiKeyEnv } = config.gptbots
  if (apiKeyFile !== undefined) {
    let key: string
    try {
      key = readFileSync(resolve(configDir, apiKeyFile), 'utf8').trim()
    } catch (error) {
      throw new ConfigError(
        `handoff.gptbots.apiKeyFile: cannot read ${apiKeyFile}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`
      )
    }
    if (key === '') throw new ConfigError(`handoff.gptbots.apiKeyFile: ${apiKeyFile} is empty`)
    return key
  }
  const key = env[apiKeyEnv]?.trim()
  if (!key)
    throw new ConfigError(
      `handoff: the GPTBots API key is missing: set the environment variable ${apiKeyEnv} (handoff.gptbots.apiKeyEnv), or name a file in handoff.gptbots.apiKeyFile`
    )
  return key
}

const retryAfterOf = (header: string | null): number | undefined => {
  if (header === null) return undefined
  const seconds = Number(header)
  if (Number.isFinite(seconds) && seconds >= 0) return Math.round(seconds * 1000)
  const date = Date.parse(header)
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now())
}

/** GPTBots' longer error codes (40404, 50001) start with the HTTP status they mean. */
const httpLike = (code: number): number => {
  const digits = String(Math.trunc(Math.abs(code))).length
  return digits > 3 ? Math.trunc(code / 10 ** (digits - 3)) : code
}

/** GPTBots' own words about a failure, short, from its `{code, message}` body when it has one. */
function reasonOf(status: number, text: string): string {
  let said = text
  try {
    const body = JSON.parse(text) as { message?: unknown; msg?: unknown; code?: unknown }
    said = String(body.message ?? body.msg ?? text)
  } catch {
    /* not JSON: its text, cut */
  }
  said = said.replace(/\s+/g, ' ').trim().slice(0, 200)
  return `GPTBots answered HTTP ${status}${said ? `: ${said}` : ''}`
}

/**
 * The client of GPTBots' human API. `Authorization: Bearer <key>` as GPTBots' other APIs take
 * (the human API's own authentication is not documented). The key appears in no result.
 */
export function humanApi(options: { apiUrl: string; apiKey: string; timeoutMs: number }): HumanApi {
  const base = options.apiUrl.replace(/\/+$/, '')
  async function call(path: string, body: object, signal?: AbortSignal): Promise<ApiResult> {
    const timeout = AbortSignal.timeout(options.timeoutMs)
    let response: Response
    let text: string
    try {
      response = await fetch(`${base}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${options.apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout
      })
      text = await response.text()
    } catch (error) {
      const reason = timeout.aborted
        ? `GPTBots did not answer within ${options.timeoutMs} ms`
        : `GPTBots could not be reached: ${(error as Error).cause instanceof Error ? ((error as Error).cause as Error).message : (error as Error).message}`
      return { ok: false, kind: 'transient', error: `${path}: ${reason}` }
    }
    const { status } = response
    if (status >= 200 && status < 300) {
      // GPTBots may answer 200 with an error code in the body.
      let code: unknown
      try {
        code = (JSON.parse(text) as { code?: unknown }).code
      } catch {
        return { ok: true }
      }
      if (typeof code !== 'number' || code === 200 || code === 0) return { ok: true }
      const meant = httpLike(code)
      if (meant === 401 || meant === 403)
        return { ok: false, kind: 'credentials', error: `${path}: ${reasonOf(status, text)}` }
      if (meant >= 400 && meant < 500 && meant !== 408 && meant !== 429)
        return { ok: false, kind: 'permanent', error: `${path}: ${reasonOf(status, text)}` }
      return { ok: false, kind: 'transient', error: `${path}: ${reasonOf(status, text)}` }
    }
    const error = `${path}: ${reasonOf(status, text)}`
    if (status === 401 || status === 403) return { ok: false, kind: 'credentials', error }
    if (status === 429 || status === 408 || status >= 500) {
      const retryAfterMs = retryAfterOf(response.headers.get('retry-after'))
      return retryAfterMs === undefined
        ? { ok: false, kind: 'transient', error }
        : { ok: false, kind: 'transient', error, retryAfterMs }
    }
    if (status >= 400) return { ok: false, kind: 'permanent', error }
    return { ok: false, kind: 'transient', error }
  }
  return {
    send: (input, signal) =>
      call(
        '/v1/human/message/receive',
        { conversation_id: input.conversationId, timestamp: input.timestamp, body: input.text },
        signal
      ),
    close: (input, signal) =>
      call('/v1/human/close', { conversation_id: input.conversationId, timestamp: input.timestamp }, signal)
  }
}
