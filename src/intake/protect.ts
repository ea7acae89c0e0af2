import rateLimit from '@fastify/rate-limit'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Config } from '../config/schema.js'
import { Errors, RelayHttpError } from '../errors.js'

/**
 * How far behind the event loop runs: a timer ticks every `intervalMs`, and each tick notes how
 * late it came. The delay is the smaller of the last two: one late tick is one long task or GC
 * pause, already over by the time anyone could be refused for it, and must not turn away the
 * webhooks read after it; a loop that stays behind makes every tick late.
 */
export class LoopDelay {
  #timer: NodeJS.Timeout | undefined
  #last = 0
  #lags = [0, 0]

  constructor(
    readonly intervalMs = 50,
    private readonly now: () => number = () => performance.now()
  ) {}

  start(): void {
    if (this.#timer) return
    this.#last = this.now()
    this.#lags = [0, 0]
    this.#timer = setInterval(() => this.tick(), this.intervalMs).unref()
  }

  /** One tick of the timer (called by it; by tests with their own clock). */
  tick(): void {
    const at = this.now()
    this.#lags = [this.#lags[1]!, Math.max(0, at - this.#last - this.intervalMs)]
    this.#last = at
  }

  stop(): void {
    clearInterval(this.#timer)
    this.#timer = undefined
    this.#lags = [0, 0]
  }

  delayMs(): number {
    return Math.min(this.#lags[0]!, this.#lags[1]!)
  }
}

export interface AdmissionOptions {
  maxInFlight: number
  maxEventLoopDelayMs: number
  /** The event-loop delay now, in ms. */
  loopDelay(): number
}

/**
 * Counts webhook requests from admission until their answer is sent, and says when one more must
 * be refused. The count covers reading the body and waiting for the store, so the memory held by
 * webhooks is bounded by `maxInFlight` × `server.bodyLimit`.
 */
export class Admission {
  #inFlight = 0
  constructor(private readonly options: AdmissionOptions) {}

  get inFlight(): number {
    return this.#inFlight
  }

  /** Why a webhook arriving now must be refused, or undefined when it may come in. */
  refusal(): string | undefined {
    if (this.#inFlight >= this.options.maxInFlight) {
      return `${this.#inFlight} webhook requests are already being read or stored (intake.backpressure.maxInFlight)`
    }
    const delay = this.options.loopDelay()
    if (delay > this.options.maxEventLoopDelayMs) {
      return `the event loop is ${Math.round(delay)} ms behind (intake.backpressure.maxEventLoopDelayMs is ${this.options.maxEventLoopDelayMs})`
    }
    return undefined
  }

  /** Counts one webhook in; the returned function counts it out, once however often it is called. */
  enter(): () => void {
    this.#inFlight++
    let left = false
    return () => {
      if (left) return
      left = true
      this.#inFlight--
    }
  }
}

type Hook = (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>

export interface IntakeProtection {
  /** onRequest: refuses with OVERLOADED when the relay is behind, otherwise counts the request in until its answer is sent. */
  admit: Hook
  /** onRequest, after authentication: the source's budget; undefined when `intake.rateLimit.max` is 0. */
  limitSource?: Hook
  /** Called when authentication failed: throws RATE_LIMITED once this address has failed too often. */
  limitFailures?(request: FastifyRequest, reply: FastifyReply): Promise<void>
}

type Limiter = ReturnType<FastifyInstance['createRateLimit']>

/**
 * Spends one request of a budget and throws RATE_LIMITED with Retry-After when it is over. With
 * `announce`, every answer carries the usual x-ratelimit-* headers; otherwise only the refusal does.
 */
async function spend(
  limiter: Limiter,
  request: FastifyRequest,
  reply: FastifyReply,
  announce: boolean,
  refusal: (max: number) => string
): Promise<void> {
  const state = await limiter(request)
  if (state.isAllowed || (!announce && !state.isExceeded)) return
  void reply
    .header('x-ratelimit-limit', state.max)
    .header('x-ratelimit-remaining', state.remaining)
    .header('x-ratelimit-reset', state.ttlInSeconds)
  if (!state.isExceeded) return
  void reply.header('retry-after', state.ttlInSeconds)
  throw new RelayHttpError('RATE_LIMITED', `${refusal(state.max)}; send it again after ${state.ttlInSeconds} s`)
}

/**
 * The intake's defences under load, for the webhook routes of `app` (the intake plugin's own
 * context, so /healthz, /readyz and the rest are never limited or refused).
 */
export async function protectIntake(
  app: FastifyInstance,
  intake: Config['intake'],
  sourceOf: (request: FastifyRequest) => string
): Promise<IntakeProtection> {
  const { maxInFlight, maxEventLoopDelayMs, retryAfterSeconds } = intake.backpressure
  const loop = new LoopDelay()
  app.addHook('onReady', async () => loop.start())
  app.addHook('onClose', async () => loop.stop())
  const admission = new Admission({ maxInFlight, maxEventLoopDelayMs, loopDelay: () => loop.delayMs() })
  let overloaded = false

  const admit: Hook = async (request, reply) => {
    const reason = admission.refusal()
    if (reason) {
      // One warning per episode, not a line per refused request: logging must not deepen an overload.
      if (!overloaded)
        request.log.warn(
          { reason },
          `intake overloaded: webhooks get 503 with Retry-After ${retryAfterSeconds} s until it clears`
        )
      overloaded = true
      // Answered here, not thrown: the error handler logs every 5xx at error level, once per request.
      return reply
        .code(503)
        .header('x-relay-error', 'OVERLOADED')
        .header('retry-after', retryAfterSeconds)
        .send({ code: 503, msg: `${Errors.OVERLOADED.message} (${reason})` })
    }
    if (overloaded) request.log.info('intake no longer overloaded')
    overloaded = false
    // 'close' comes once the answer is sent or the client has gone, so no path leaves a request counted.
    reply.raw.once('close', admission.enter())
  }

  const { max, windowMs } = intake.rateLimit
  if (max === 0) return { admit }

  await app.register(rateLimit, { global: false })
  // The budget is per source, not per address: GPTBots posts from a pool of addresses. It is spent
  // only by requests that passed authentication (this runs after it), so strangers flooding a
  // source's URL cannot use up the real sender's budget. Their failures get a budget of their own,
  // per address. Availability probes count: the limit runs before the body is read, so a probe
  // cannot be told from a message, and GPTBots probes rarely.
  const perSource = app.createRateLimit({ max, timeWindow: windowMs, keyGenerator: request => sourceOf(request) })
  const perFailingAddress = app.createRateLimit({ max, timeWindow: windowMs })
  return {
    admit,
    limitSource: (request, reply) =>
      spend(
        perSource,
        request,
        reply,
        true,
        limit =>
          `source "${sourceOf(request)}" sent more than ${limit} webhook requests within ${windowMs} ms (intake.rateLimit)`
      ),
    limitFailures: (request, reply) =>
      spend(
        perFailingAddress,
        request,
        reply,
        false,
        limit => `more than ${limit} webhook requests from this address failed authentication within ${windowMs} ms`
      )
  }
}
