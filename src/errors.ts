/**
 * Every error the relay answers with, in one table. `code` is stable (sent as the
 * `x-relay-error` header and listed in the README); `status` is the HTTP status and the envelope's
 * `code`; the envelope's `msg` is the message, made specific where a detail is known.
 */
export const Errors = {
  BODY_INVALID: { status: 400, message: 'the body does not match the GPTBots webhook format' },
  BODY_NOT_JSON: { status: 400, message: 'the body is not valid JSON' },
  BODY_NOT_OBJECT: { status: 400, message: 'the body must be a JSON object' },
  BODY_BAD_ENCODING: { status: 400, message: 'the body is not valid UTF-8' },
  BODY_EMPTY: { status: 400, message: 'the body is empty; GPTBots sends a JSON object' },
  AUTH_MISSING: { status: 401, message: 'missing credentials: send Authorization: Bearer <token> or Basic <token>' },
  AUTH_SCHEME: { status: 401, message: 'unsupported Authorization scheme: use Bearer or Basic' },
  AUTH_INVALID: { status: 401, message: 'wrong credentials for this webhook' },
  SOURCE_UNKNOWN: { status: 404, message: 'no webhook source of that name is configured' },
  ROUTE_NOT_FOUND: { status: 404, message: 'no such route: GPTBots posts to POST /webhook or POST /webhook/<source>' },
  REQUEST_MALFORMED: { status: 400, message: 'the request is not valid HTTP/1.1' },
  URL_INVALID: { status: 400, message: 'the URL is not valid: a %-escape does not decode to UTF-8 text' },
  HOST_MISSING: { status: 400, message: 'the request has no Host header, which HTTP/1.1 requires' },
  REQUEST_TIMEOUT: { status: 408, message: 'the request was not received in time; nothing was accepted' },
  URL_TOO_LONG: {
    status: 414,
    message: 'a part of the URL is longer than 100 characters; source names have at most 64'
  },
  HEADERS_TOO_LARGE: { status: 431, message: 'the request headers are larger than 16 KiB' },
  BODY_TOO_LARGE: { status: 413, message: 'the body is larger than the configured limit' },
  MEDIA_TYPE: { status: 415, message: 'unsupported content type: send Content-Type: application/json' },
  RATE_LIMITED: {
    status: 429,
    message: 'too many webhook requests for this source; send it again after Retry-After seconds'
  },
  OVERLOADED: {
    status: 503,
    message: 'the relay is overloaded; nothing was accepted, send it again after Retry-After seconds'
  },
  ADMIN_DISABLED: { status: 404, message: 'the admin API is disabled: set admin.token in the config to enable it' },
  ADMIN_AUTH: { status: 401, message: 'wrong or missing admin token: send Authorization: Bearer <admin.token>' },
  NOT_FOUND: { status: 404, message: 'not found' },
  CONFLICT: { status: 409, message: 'the request conflicts with the current state' },
  REQUEST_INVALID: { status: 400, message: "the request does not match the admin API's schema" },
  UI_SESSION: { status: 401, message: 'not signed in to the dashboard, or the session ended: sign in at /ui/login' },
  UI_CSRF: {
    status: 403,
    message: 'refused: the dashboard action did not come from its own page (cross-site request or stale form)'
  },
  UI_ACTION: { status: 409, message: 'the dashboard action could not be done' },
  UI_BUSY: { status: 429, message: 'too many live dashboard pages are open; close some and reload' },
  RELOAD_FAILED: { status: 500, message: 'the config could not be reloaded; the running config is unchanged' },
  RELOAD_UNSUPPORTED: { status: 501, message: 'this relay cannot reload its config while running; restart it instead' },
  STORE_UNAVAILABLE: {
    status: 503,
    message: 'the message could not be stored; nothing was accepted, send it again later'
  },
  HANDOFF_BODY_INVALID: {
    status: 400,
    message: 'the body does not match the GPTBots human-handoff format'
  },
  SIGNATURE_MISSING: { status: 401, message: 'the request is not signed: the platform signature headers are missing' },
  SIGNATURE_INVALID: { status: 401, message: 'the request signature does not match: check the signing secret' },
  SIGNATURE_STALE: { status: 401, message: 'the request is signed too long ago (over 5 minutes) or in the future' },
  INTERNAL: { status: 500, message: 'internal error; nothing was accepted, send it again later' }
} as const satisfies Record<string, { status: number; message: string }>

export type ErrorCode = keyof typeof Errors

/** An error meant for the HTTP client: it carries its table code and a message a person can act on. */
export class RelayHttpError extends Error {
  readonly code: ErrorCode
  readonly status: number
  constructor(code: ErrorCode, message?: string, options?: ErrorOptions) {
    super(message ?? Errors[code].message, options)
    this.name = 'RelayHttpError'
    this.code = code
    this.status = Errors[code].status
  }
}

/** A configuration that cannot run: the message names the path and the reason. */
export class ConfigError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'ConfigError'
  }
}
