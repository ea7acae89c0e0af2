import type { FastifyInstance } from 'fastify'
import {
  Counter,
  Gauge,
  Histogram,
  Registry,
  collectDefaultMetrics,
  type GaugeConfiguration,
  type MetricObjectWithValues,
  type MetricValue
} from 'prom-client'
import type { Clock } from '../clock.js'
import type { AttemptEvent } from '../dispatch/dispatcher.js'
import type { IntakeEvent } from '../intake/routes.js'
import type { RelayLogger } from '../relays/types.js'
import type { BackfillJob, BacklogStats, DeliveryLog } from '../store/types.js'

const prefix = 'gptbots_relay_'
/** The route label of requests that matched no route, so that scanners cannot mint label values. */
export const UNMATCHED_ROUTE = 'unmatched'

/** Chat latency: tens of milliseconds when all is well, minutes when a platform rate-limits or is down. */
const latencyBuckets = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300]
const attemptBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
const requestBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]

const webhookRoutes = new Set(['/webhook', '/webhook/:source'])

export interface MetricsOptions {
  store: Pick<DeliveryLog, 'backlog'>
  /** The configured relays, read at each scrape (a reload updates the map in place): each gets a sample, 0 when idle, in the backlog gauges. */
  relays: ReadonlyMap<string, unknown>
  clock: Clock
  logger: RelayLogger
  /** The relays holding their deliveries because the platform refused their credentials. */
  held?: () => ReadonlyMap<string, unknown>
}

/**
 * The relay's Prometheus metrics, in a registry of their own: every app (and a test process builds
 * many) counts apart. Intake and dispatcher report through `intake` and `attempt`.
 */
export interface RelayMetrics {
  registry: Registry
  intake(event: IntakeEvent): void
  attempt(event: AttemptEvent): void
  response(event: ResponseEvent): void
  /** A backfill ended: its figures, added up by trigger. */
  backfill(job: BackfillJob): void
}

/** One answered HTTP request; `route` is the route pattern, never the raw URL. */
export interface ResponseEvent {
  method: string
  route: string
  statusCode: number
  seconds: number
  /** The x-relay-error code of a refusal. */
  errorCode?: string
}

/** Reads the store at most once per scrape, however many gauges ask; undefined when the read failed. */
function oncePerScrape(
  read: () => Promise<BacklogStats>,
  failed: (error: unknown) => void
): () => Promise<BacklogStats | undefined> {
  let reading: Promise<BacklogStats | undefined> | undefined
  return () => {
    reading ??= read()
      .catch((error: unknown) => {
        failed(error)
        return undefined
      })
      .finally(() => {
        reading = undefined
      })
    return reading
  }
}

/** A gauge filled from the outbox at scrape time; when the store cannot be read it shows no samples rather than stale or made-up ones. */
class BacklogGauge<T extends string> extends Gauge<T> {
  constructor(
    config: GaugeConfiguration<T>,
    private readonly backlog: () => Promise<BacklogStats | undefined>,
    private readonly fill: (gauge: Gauge<T>, stats: BacklogStats) => void
  ) {
    super(config)
  }

  override async get(): Promise<MetricObjectWithValues<MetricValue<T>>> {
    const stats = await this.backlog()
    this.reset()
    if (stats) this.fill(this, stats)
    const metric = await super.get()
    return stats ? metric : { ...metric, values: [] }
  }
}

export function createMetrics(options: MetricsOptions): RelayMetrics {
  const { store, relays, clock, logger } = options
  const registry = new Registry()
  const registers = [registry]
  // Standard names (process_*, nodejs_*), so that stock Node.js dashboards work unchanged.
  collectDefaultMetrics({ register: registry })

  const received = new Counter({
    name: `${prefix}messages_received_total`,
    help: 'Messages accepted and stored as new, by webhook source and message type (duplicates and probes are counted apart).',
    labelNames: ['source', 'type'] as const,
    registers
  })
  const duplicates = new Counter({
    name: `${prefix}messages_duplicate_total`,
    help: 'Messages acknowledged without storing because they were already stored (GPTBots sent them again), by webhook source.',
    labelNames: ['source'] as const,
    registers
  })
  const probes = new Counter({
    name: `${prefix}probes_total`,
    help: 'GPTBots availability probes (istest) answered, by webhook source.',
    labelNames: ['source'] as const,
    registers
  })
  const rejected = new Counter({
    name: `${prefix}webhooks_rejected_total`,
    help: 'Webhook requests refused, by error code (the x-relay-error header).',
    labelNames: ['code'] as const,
    registers
  })
  const requests = new Counter({
    name: `${prefix}http_requests_total`,
    help: 'HTTP requests answered, by method, route pattern and status code.',
    labelNames: ['method', 'route', 'status_code'] as const,
    registers
  })
  const requestDuration = new Histogram({
    name: `${prefix}http_request_duration_seconds`,
    help: 'Time to answer an HTTP request, by method and route pattern.',
    labelNames: ['method', 'route'] as const,
    buckets: requestBuckets,
    registers
  })

  const attempts = new Counter({
    name: `${prefix}delivery_attempts_total`,
    help: 'Delivery attempts by relay and outcome: delivered, retry (will be tried again) or dead (dead-lettered).',
    labelNames: ['relay', 'outcome'] as const,
    registers
  })
  const rateLimited = new Counter({
    name: `${prefix}delivery_rate_limited_total`,
    help: 'Retries scheduled when the platform said how long to wait (a 429 and its Retry-After honoured), by relay.',
    labelNames: ['relay'] as const,
    registers
  })
  const attemptDuration = new Histogram({
    name: `${prefix}delivery_attempt_duration_seconds`,
    help: 'How long one delivery attempt took, whatever its outcome, by relay.',
    labelNames: ['relay'] as const,
    buckets: attemptBuckets,
    registers
  })
  const latency = new Histogram({
    name: `${prefix}delivery_latency_seconds`,
    help: 'From a message\'s creation at GPTBots (from="created", create_time, often to the second) or its receipt by the relay (from="received") until the platform accepted it, by relay.',
    labelNames: ['relay', 'from'] as const,
    buckets: latencyBuckets,
    registers
  })

  // async, so that a store throwing at once is caught like one that rejects.
  const backlog = oncePerScrape(
    async () => store.backlog(),
    error => {
      backlogErrors.inc()
      logger.error({ err: error }, 'metrics: could not read the outbox backlog; its gauges are left out of this scrape')
    }
  )
  // It waits for this scrape's read, so that a failure shows in the same scrape.
  const backfillRuns = new Counter({
    name: `${prefix}backfill_runs_total`,
    help: 'Backfills (reading GPTBots back) that ended, by trigger (start, schedule, manual) and status (done, failed).',
    labelNames: ['trigger', 'status'] as const,
    registers
  })
  const backfillMessages = new Counter({
    name: `${prefix}backfill_messages_total`,
    help: 'Messages read back from GPTBots by backfills, by outcome: found (in the window), taken_in (new), already_there (stored before, not posted again).',
    labelNames: ['outcome'] as const,
    registers
  })
  const backfillConversations = new Counter({
    name: `${prefix}backfill_conversations_total`,
    help: 'Conversations whose messages backfills read from GPTBots.',
    registers
  })
  const backfillCalls = new Counter({
    name: `${prefix}backfill_api_calls_total`,
    help: "Calls backfills made to GPTBots' API (retries included).",
    registers
  })
  const backlogErrors = new Counter({
    name: `${prefix}backlog_read_errors_total`,
    help: 'Scrapes whose outbox gauges were left out because the store could not be read.',
    registers,
    collect: async () => {
      await backlog()
    }
  })
  const perRelay = (gauge: Gauge<'relay'>, counts: Record<string, number>) => {
    for (const relay of relays.keys()) gauge.set({ relay }, 0)
    for (const [relay, count] of Object.entries(counts)) gauge.set({ relay }, count)
  }
  new BacklogGauge(
    {
      name: `${prefix}outbox_pending`,
      help: 'Deliveries waiting in the outbox (due or waiting for a retry), by relay.',
      labelNames: ['relay'] as const,
      registers
    },
    backlog,
    (gauge, stats) => perRelay(gauge, stats.pendingByRelay)
  )
  new BacklogGauge(
    {
      name: `${prefix}dead_letters`,
      help: 'Dead letters kept in the outbox until replayed or dropped, by relay.',
      labelNames: ['relay'] as const,
      registers
    },
    backlog,
    (gauge, stats) => perRelay(gauge, stats.deadByRelay)
  )
  new BacklogGauge(
    {
      name: `${prefix}outbox_oldest_pending_age_seconds`,
      help: 'Age of the oldest undelivered message (since the relay received it); 0 when nothing is pending.',
      registers
    },
    backlog,
    (gauge, stats) =>
      gauge.set(stats.oldestPendingAt === undefined ? 0 : Math.max(0, clock.now() - stats.oldestPendingAt) / 1000)
  )

  new BacklogGauge(
    {
      name: `${prefix}lag_seconds`,
      help: 'Age of the oldest undelivered (pending) message of each relay, since the relay received it; 0 when nothing is pending.',
      labelNames: ['relay'] as const,
      registers
    },
    backlog,
    (gauge, stats) => {
      const now = clock.now()
      for (const relay of relays.keys()) gauge.set({ relay }, 0)
      for (const [relay, at] of Object.entries(stats.oldestPendingByRelay))
        gauge.set({ relay }, Math.max(0, now - at) / 1000)
    }
  )
  new Gauge({
    name: `${prefix}channel_lag_seconds`,
    help: 'Age of the oldest message waiting for each platform channel, by relay and channel, for relays that report it (see docs/metrics.md).',
    labelNames: ['relay', 'channel'] as const,
    registers,
    collect() {
      this.reset()
      const now = clock.now()
      for (const [relay, instance] of relays) {
        const lag = (instance as { channelLag?: () => ReadonlyMap<string, number> } | undefined)?.channelLag
        if (typeof lag !== 'function') continue
        try {
          for (const [channel, at] of lag.call(instance)) this.set({ relay, channel }, Math.max(0, now - at) / 1000)
        } catch (error) {
          logger.error({ err: error, relay }, 'metrics: the relay could not report its lag per channel')
        }
      }
    }
  })

  new Gauge({
    name: `${prefix}relay_held`,
    help: 'Whether a relay holds its deliveries because the platform refused its credentials (1) or not (0), by relay.',
    labelNames: ['relay'] as const,
    registers,
    collect() {
      const held = options.held?.()
      this.reset()
      for (const relay of relays.keys()) this.set({ relay }, held?.has(relay) ? 1 : 0)
    }
  })

  return {
    registry,
    intake(event) {
      if (event.kind === 'probe') probes.inc({ source: event.source })
      else if (event.kind === 'duplicate') duplicates.inc({ source: event.source })
      else received.inc({ source: event.source, type: event.type })
    },
    attempt({ relay, delivery, outcome, durationMs, batch }) {
      attempts.inc({ relay, outcome: outcome.status === 'failed' ? 'dead' : outcome.status })
      // A combined delivery is one attempt however many messages it carried.
      if (!batch || batch.index === 0) attemptDuration.observe({ relay }, durationMs / 1000)
      if (outcome.status === 'retry' && outcome.retryAfterMs !== undefined) rateLimited.inc({ relay })
      if (outcome.status === 'delivered') {
        const now = clock.now()
        // A clock running behind GPTBots' must not make negative latencies.
        latency.observe({ relay, from: 'created' }, Math.max(0, now - delivery.message.createdAt) / 1000)
        latency.observe({ relay, from: 'received' }, Math.max(0, now - delivery.message.receivedAt) / 1000)
      }
    },
    backfill({ trigger, status, figures }) {
      backfillRuns.inc({ trigger, status })
      backfillMessages.inc({ outcome: 'found' }, figures.found)
      backfillMessages.inc({ outcome: 'taken_in' }, figures.takenIn)
      backfillMessages.inc({ outcome: 'already_there' }, figures.alreadyThere)
      backfillConversations.inc(figures.conversations)
      backfillCalls.inc(figures.calls)
    },
    response({ method, route, statusCode, seconds, errorCode }) {
      requests.inc({ method, route, status_code: statusCode })
      requestDuration.observe({ method, route }, seconds)
      if (statusCode >= 400 && webhookRoutes.has(route)) rejected.inc({ code: errorCode ?? `HTTP_${statusCode}` })
    }
  }
}

/** Counts every HTTP request and serves GET /metrics, unauthenticated as Prometheus expects. */
export function useMetrics(app: FastifyInstance, metrics: RelayMetrics): void {
  app.addHook('onResponse', async (request, reply) => {
    const errorCode = reply.getHeader('x-relay-error')
    metrics.response({
      method: request.method,
      route: request.is404 ? UNMATCHED_ROUTE : (request.routeOptions.url ?? UNMATCHED_ROUTE),
      statusCode: reply.statusCode,
      seconds: reply.elapsedTime / 1000,
      errorCode: typeof errorCode === 'string' ? errorCode : undefined
    })
  })
  app.get('/metrics', async (_request, reply) =>
    reply.type(metrics.registry.contentType).send(await metrics.registry.metrics())
  )
}
