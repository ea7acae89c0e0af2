import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { Errors, type ErrorCode } from '../errors.js'

/**
 * The largest unread body the relay lets a client finish sending after it has been answered
 * without reading it (a 404, a 401), so that the client reads the answer instead of a reset.
 * Anything larger, or of unknown length, gets its connection closed: strangers cannot make the
 * relay take in their bytes.
 */
export const strangerDrainLimit = 64 * 1024

/** Requests whose sender proved who it is (a webhook or admin token): their refusals are drained, not cut off. */
const trusted = new WeakSet<IncomingMessage>()

/** Marks a request as sent by someone holding a token, so that an early refusal (413, 429, 503) stays readable. */
export function trust(request: FastifyRequest): void {
  trusted.add(request.raw)
}

/** Bytes the request says it still has to send: its Content-Length, or Infinity when chunked. */
function announcedBody(raw: IncomingMessage): number {
  if (raw.headers['transfer-encoding'] !== undefined) return Number.POSITIVE_INFINITY
  const length = Number(raw.headers['content-length'] ?? 0)
  return Number.isFinite(length) ? length : Number.POSITIVE_INFINITY
}

/** A whole HTTP/1.1 answer in the relay's envelope, for where Fastify has no reply to send it with. */
export function rawEnvelope(code: ErrorCode, msg: string): string {
  const status = Errors[code].status
  const body = JSON.stringify({ code: status, msg })
  return [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}`,
    'content-type: application/json; charset=utf-8',
    `content-length: ${Buffer.byteLength(body)}`,
    `x-relay-error: ${code}`,
    'connection: close',
    '',
    body
  ].join('\r\n')
}

/** Node's parser errors, by code: what the relay answers for each. */
function clientErrorOf(error: NodeJS.ErrnoException, limits: HttpLimits): { code: ErrorCode; msg: string } {
  switch (error.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return {
        code: 'REQUEST_TIMEOUT',
        msg: `${Errors.REQUEST_TIMEOUT.message} (the headers must arrive within ${limits.headersTimeoutMs} ms, server.headersTimeoutMs, and the whole request within ${limits.requestTimeoutMs} ms, server.requestTimeoutMs)`
      }
    case 'HPE_HEADER_OVERFLOW':
      return { code: 'HEADERS_TOO_LARGE', msg: Errors.HEADERS_TOO_LARGE.message }
    case 'HPE_INVALID_CONTENT_LENGTH':
    case 'HPE_UNEXPECTED_CONTENT_LENGTH':
      return { code: 'REQUEST_MALFORMED', msg: 'the Content-Length header is not a valid length' }
    case 'HPE_INVALID_TRANSFER_ENCODING':
      return { code: 'REQUEST_MALFORMED', msg: 'the Transfer-Encoding header is not valid' }
    default:
      return { code: 'REQUEST_MALFORMED', msg: Errors.REQUEST_MALFORMED.message }
  }
}

/** Sockets already answered by the client-error handler: node may report the same broken request more than once. */
const answered = new WeakSet<Socket>()

/**
 * Answers what node's HTTP parser refuses (bad framing, oversized headers, timeouts) in the
 * envelope, written raw because there is no request to reply to. The connection is half-closed
 * and given a moment for the client to read the answer, then destroyed.
 */
function clientErrorHandler(limits: HttpLimits) {
  return function onClientError(this: FastifyInstance, error: NodeJS.ErrnoException, socket: Socket): void {
    if (error.code === 'ECONNRESET' || socket.destroyed) return
    if (answered.has(socket)) return
    answered.add(socket)
    const { code, msg } = clientErrorOf(error, limits)
    this.log.info({ errorCode: code, reason: error.code }, 'request refused before it could be read')
    // A whole request read before the bad bytes is being answered: its answer goes out first, then this one.
    afterAnswersUnderWay(socket, limits.requestTimeoutMs, () => refuse(socket, code, msg, limits))
  }
}

/** What node attaches to a socket while a request on it is being answered. */
type Answering = ServerResponse & { req?: IncomingMessage }
const answering = (socket: Socket) => (socket as Socket & { _httpMessage?: Answering | null })._httpMessage ?? undefined

/**
 * Runs `then` once no complete request on the socket waits for its answer (node answers pipelined
 * requests one after another on the same socket), or after `limitMs` at most. Nothing more is read
 * meanwhile: the bytes that broke the parser and whatever follows them are never taken in.
 */
function afterAnswersUnderWay(socket: Socket, limitMs: number, then: () => void): void {
  const pending = answering(socket)
  if (pending === undefined || pending.writableFinished || pending.req?.complete !== true) {
    then()
    return
  }
  socket.pause()
  let done = false
  const finish = () => {
    if (done) return
    done = true
    clearTimeout(timer)
    then()
  }
  const timer = setTimeout(finish, limitMs)
  timer.unref()
  socket.once('close', finish)
  const next = (response: Answering) =>
    response.once('finish', () =>
      // Node hands the socket to the next queued answer when one finishes; wait for that one too.
      setImmediate(() => {
        const following = answering(socket)
        if (following !== undefined && following !== response && !following.writableFinished) next(following)
        else finish()
      })
    )
  next(pending)
}

/** Writes the refusal raw and closes the connection once the client has had a moment to read it. */
function refuse(socket: Socket, code: ErrorCode, msg: string, limits: HttpLimits): void {
  if (socket.destroyed) return
  // A response already under way on this socket cannot be followed by another one.
  const current = answering(socket)
  const busy = current?.headersSent === true && !current.writableFinished
  if (socket.writable && !busy) socket.end(rawEnvelope(code, msg))
  const timer = setTimeout(() => socket.destroy(), limits.lingerMs)
  timer.unref()
  socket.once('close', () => clearTimeout(timer))
  // What the client still sends is not read, so it cannot hold the socket open past the timer.
  socket.once('end', () => socket.destroy())
  socket.resume()
}

export interface HttpLimits {
  headersTimeoutMs: number
  requestTimeoutMs: number
  /** How long a refused connection stays half-open so that its client reads the answer. */
  lingerMs: number
}

/**
 * Fastify's and node's server options that bound what a client can make the relay wait for:
 * headers and the whole request (body included, however slowly it trickles) within their time
 * limits, checked often enough for the limits to mean what they say; low-level refusals in the
 * envelope; and a missing Host header left to the relay, so that it too is answered in the envelope.
 */
export function serverOptions(limits: HttpLimits) {
  const headersTimeout = Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs)
  return {
    requestTimeout: limits.requestTimeoutMs,
    http: {
      headersTimeout,
      // Node looks for expired requests every connectionsCheckingInterval (30 s by default).
      connectionsCheckingInterval: Math.max(10, Math.min(1000, Math.floor(headersTimeout / 4))),
      requireHostHeader: false
    },
    clientErrorHandler: clientErrorHandler(limits)
  }
}

/** Fastify's own refusals of a URL, which it answers before any route or hook runs. */
export function frameworkErrors(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const url = request.raw.url ?? ''
  const shown = url.length > 80 ? `${url.slice(0, 80)}…` : url
  const { code, msg } =
    error.code === 'FST_ERR_BAD_URL'
      ? { code: 'URL_INVALID' as const, msg: `${Errors.URL_INVALID.message} (got ${JSON.stringify(shown)})` }
      : error.code === 'FST_ERR_MAX_PARAM_LENGTH'
        ? { code: 'URL_TOO_LONG' as const, msg: Errors.URL_TOO_LONG.message }
        : { code: 'INTERNAL' as const, msg: Errors.INTERNAL.message }
  leaveBodyUnread(request, reply)
  void reply
    .code(Errors[code].status)
    .header('x-relay-error', code)
    .header('content-type', 'application/json; charset=utf-8')
    .send(JSON.stringify({ code: Errors[code].status, msg }))
}

/**
 * Called when a request is answered before its body was read. A trusted sender's body is left to
 * node, which reads and discards it so that the client sees the answer, bounded by
 * requestTimeoutMs. A stranger's is discarded only when small; otherwise the connection is closed
 * once the answer is out, so the relay never takes in more than a few of its packets.
 */
function leaveBodyUnread(request: FastifyRequest, reply: FastifyReply): void {
  const raw = request.raw
  if (raw.complete) {
    // Fastify closes after a body it could not parse, but this one was read to its end: closing would
    // throw away the answers of requests pipelined behind it, which the relay has already taken.
    reply.removeHeader('connection')
    return
  }
  if (announcedBody(raw) === 0) return
  if (trusted.has(raw)) {
    // Fastify closes after a body it refused; with the body drained, the connection is fine to keep.
    reply.removeHeader('connection')
    return
  }
  if (announcedBody(raw) > strangerDrainLimit) void reply.header('connection', 'close')
}

/**
 * What the relay does before any route runs: a request for no route is answered before its body
 * is read, so are HTTP/1.1 requests without a Host header; and every answer sent while the body is
 * still unread decides whether that body is drained or the connection closed. Must be used before
 * routes are registered.
 */
export function useHttpLimits(app: FastifyInstance): void {
  app.addHook('onRequest', async (request, reply) => {
    if (request.raw.httpVersion === '1.1' && request.headers.host === undefined) {
      return reply
        .code(400)
        .header('x-relay-error', 'HOST_MISSING')
        .send({ code: 400, msg: Errors.HOST_MISSING.message })
    }
    if (request.is404) {
      return reply
        .code(404)
        .header('x-relay-error', 'ROUTE_NOT_FOUND')
        .send({
          code: 404,
          msg: `${Errors.ROUTE_NOT_FOUND.message} (got ${request.method} ${request.url.split('?')[0]})`
        })
    }
  })
  app.addHook('onSend', async (request, reply, payload) => {
    leaveBodyUnread(request, reply)
    return payload
  })
}
