import { randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import type { Clock } from '../clock.js'
import type { Config } from '../config/schema.js'
import { RelayHttpError } from '../errors.js'
import { GptbotsApiError, type GptbotsApis } from '../gptbots/api.js'
import { backfillSources, DEFAULT_SOURCE } from '../gptbots/settings.js'
import { deliverabilityProblems, withWellFormedText } from '../intake/deliverable.js'
import type { RelayMessage } from '../message.js'
import type { BackfillFigures, BackfillJob, Outbox, BackfillRecords } from '../store/types.js'
import { readBack } from './read.js'

const HOUR = 3_600_000
/** The lease that lets one replica run the automatic backfill; renewed while it runs. */
const LEASE = 'backfill'
const LEASE_MS = 60_000
/** A scheduled run stops this far before now: a message this young may still be on its way by webhook. */
const SETTLE_MS = 60_000
/** A window shorter than this is not worth a call: another replica has just read it. */
const MIN_WINDOW_MS = 5_000

export interface BackfillRequest {
  since: number
  until?: number
  conversationId?: string
  source?: string
}

export interface BackfillOptions {
  store: Pick<Outbox, 'accept'> & BackfillRecords
  apis: GptbotsApis
  config: () => Config
  /** The relays a message goes to: the intake's router. */
  router: (message: RelayMessage) => string[]
  /** Wakes delivery after a message is stored. */
  accepted(): void
  clock: Clock
  logger: Logger
  /** Told when a backfill ends, for metrics. */
  observe?(job: BackfillJob): void
}

const noFigures = (): BackfillFigures => ({
  conversations: 0,
  found: 0,
  takenIn: 0,
  alreadyThere: 0,
  skipped: 0,
  calls: 0
})

const iso = (ms: number) => new Date(ms).toISOString()

/**
 * Reads back from GPTBots' API what the relay never received, and takes it in through the
 * intake's path: the same normal form, routes, outbox (dedupe by message id, order per
 * conversation, retries, dead letters). At start and on a schedule (once across replicas, by a
 * lease in the store), and on demand; every run is a record in the store that any replica answers.
 */
export class BackfillService {
  /** This process, as the owner of leases and jobs. */
  readonly owner = randomUUID()
  private lastTakenAt?: number
  private timer?: NodeJS.Timeout
  private readonly running = new Set<Promise<unknown>>()
  private readonly abort = new AbortController()

  constructor(private readonly o: BackfillOptions) {}

  /** Notes when the relay last took a message: called before the intake opens, so that new webhooks do not hide the gap. */
  async prepare(): Promise<void> {
    this.lastTakenAt = await this.o.store.lastReceivedAt()
  }

  /** Runs the start backfill (when on) and the schedule (when set), in the background. */
  startAutomatic(): void {
    const config = this.o.config().backfill
    if (config.atStart) this.track(this.automatic('start'))
    if (config.everyMinutes > 0) {
      this.timer = setInterval(() => {
        if (this.running.size === 0) this.track(this.automatic('schedule'))
      }, config.everyMinutes * 60_000)
      this.timer.unref()
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.timer)
    this.abort.abort(new Error('the relay is stopping'))
    await Promise.allSettled([...this.running])
  }

  private track<T>(work: Promise<T>): Promise<T> {
    this.running.add(work)
    const done = () => this.running.delete(work)
    work.then(done, done)
    return work
  }

  job(id: string): Promise<BackfillJob | undefined> {
    return this.o.store.backfill(id)
  }

  jobs(limit = 20): Promise<BackfillJob[]> {
    return this.o.store.listBackfills(limit)
  }

  /** The earliest time that may be read back: older messages lost their dedupe records to pruning. */
  private floor(now: number): number | undefined {
    const hours = this.o.config().retention.deliveredHours
    return hours > 0 ? now - hours * HOUR : undefined
  }

  /** Starts an on-demand backfill and answers at once with its record; it runs in the background. */
  async start(request: BackfillRequest): Promise<BackfillJob> {
    const config = this.o.config()
    const now = this.o.clock.now()
    const known = this.o.apis.sources()
    if (request.source !== undefined && !known.includes(request.source))
      throw new RelayHttpError(
        'NOT_FOUND',
        `no source named "${request.source}" (sources: ${known.map(s => `"${s}"`).join(', ')})`
      )
    const sources =
      request.source !== undefined
        ? [request.source]
        : request.conversationId !== undefined
          ? [DEFAULT_SOURCE]
          : backfillSources(config)
    if (sources.length === 0)
      throw new RelayHttpError(
        'REQUEST_INVALID',
        'no source is read back by default here (see backfill.sources); name one with body/source'
      )
    const until = Math.min(request.until ?? now, now)
    if (!(request.since < until))
      throw new RelayHttpError(
        'REQUEST_INVALID',
        `body/since (${iso(request.since)}) must be before until (${iso(until)})`
      )
    const job = this.newJob('manual', sources, request.since, until, now, request.conversationId)
    const floor = this.floor(now)
    if (floor !== undefined && job.since < floor) {
      job.problems.push(
        `the window starts at ${iso(floor)}, not ${iso(job.since)}: older messages have been pruned (retention.deliveredHours) with their dedupe records, and would be posted again`
      )
      job.since = floor
    }
    await this.o.store.saveBackfill(job)
    this.track(this.run(job))
    return job
  }

  private newJob(
    trigger: BackfillJob['trigger'],
    sources: string[],
    since: number,
    until: number,
    now: number,
    conversationId?: string
  ): BackfillJob {
    return {
      id: randomUUID(),
      trigger,
      status: 'running',
      sources,
      ...(conversationId === undefined ? {} : { conversationId }),
      since,
      until,
      owner: this.owner,
      figures: noFigures(),
      problems: [],
      createdAt: now,
      updatedAt: now
    }
  }

  /**
   * The start or scheduled backfill: once across replicas (the lease), from the later of when the
   * relay last took a message (start only), the end of the last backfill, and the horizon.
   */
  async automatic(trigger: 'start' | 'schedule'): Promise<BackfillJob | undefined> {
    const log = this.o.logger
    const config = this.o.config()
    const now = this.o.clock.now()
    try {
      if (!(await this.o.store.takeLease(LEASE, this.owner, now, now + LEASE_MS))) {
        log.info({ trigger }, 'backfill: another replica is reading GPTBots back; this one leaves it')
        return undefined
      }
    } catch (error) {
      log.warn({ err: error, trigger }, 'backfill: the store could not be asked who reads GPTBots back; skipped')
      return undefined
    }
    try {
      const until = trigger === 'schedule' ? now - SETTLE_MS : now
      const horizon = now - config.backfill.horizonHours * HOUR
      const covered = await this.coveredUntil()
      const since = Math.max(
        horizon,
        this.floor(now) ?? horizon,
        trigger === 'start' ? (this.lastTakenAt ?? horizon) : horizon,
        covered ?? horizon
      )
      if (until - since < MIN_WINDOW_MS) {
        log.debug({ trigger }, 'backfill: nothing to read back; the time is covered')
        return undefined
      }
      // A source without a GPTBots API key cannot be read back; left out quietly, told once at start.
      const named = backfillSources(config)
      const sources = named.filter(source => this.o.apis.keyOf(source) !== undefined)
      const keyless = named.filter(source => !sources.includes(source))
      if (keyless.length > 0 && trigger === 'start')
        log.info(
          { trigger, sources: keyless },
          'backfill: no GPTBots API key for these sources, so they are not read back'
        )
      if (sources.length === 0) return undefined
      const job = this.newJob(trigger, sources, since, until, now)
      await this.o.store.saveBackfill(job)
      return await this.run(job)
    } finally {
      await this.o.store.releaseLease(LEASE, this.owner).catch(() => undefined)
    }
  }

  /** The end of the newest backfill that read whole sources and finished. */
  private async coveredUntil(): Promise<number | undefined> {
    const recent = await this.o.store.listBackfills(50)
    const done = recent.filter(j => j.status === 'done' && j.conversationId === undefined && j.trigger !== 'manual')
    return done.length > 0 ? Math.max(...done.map(j => j.until)) : undefined
  }

  /** Takes one message in as the intake takes a webhook's: checked, routed, stored once. */
  private async takeIn(message: RelayMessage): Promise<'taken' | 'already' | 'refused'> {
    const problems = deliverabilityProblems(message)
    if (problems.length > 0) {
      this.o.logger.warn(
        { source: message.source, conversationId: message.conversationId, problems },
        'backfill: a message GPTBots gave back cannot be taken in'
      )
      return 'refused'
    }
    const fixed = withWellFormedText(message)
    const destinations = this.o.router(fixed)
    const result = await this.o.store.accept(fixed, destinations)
    if (result.duplicate) return 'already'
    if (destinations.length > 0) this.o.accepted()
    return 'taken'
  }

  private async run(job: BackfillJob): Promise<BackfillJob> {
    const log = this.o.logger.child({ backfill: job.id, trigger: job.trigger })
    const config = this.o.config().backfill
    const span = {
      since: iso(job.since),
      until: iso(job.until),
      sources: job.sources,
      conversationId: job.conversationId
    }
    log.info(span, 'backfill: reading GPTBots back')
    let lastSaved = this.o.clock.now()
    const save = async () => {
      const now = this.o.clock.now()
      job.updatedAt = now
      await this.o.store.saveBackfill(job)
      // An automatic run keeps its lease while it works.
      if (job.trigger !== 'manual') await this.o.store.takeLease(LEASE, this.owner, now, now + LEASE_MS)
    }
    let failed = false
    for (const source of job.sources) {
      const api = this.o.apis.for(source)
      if (!api) {
        job.problems.push(`source "${source}" is not configured`)
        failed = true
        continue
      }
      if (api.keyProblem) {
        job.problems.push(api.keyProblem)
        failed = true
        continue
      }
      try {
        await readBack({
          api,
          since: job.since,
          until: job.until,
          conversationId: job.conversationId,
          types: config.types,
          conversationType: config.conversationType,
          concurrency: config.concurrency,
          now: () => this.o.clock.now(),
          takeIn: message => this.takeIn(message),
          figures: job.figures,
          problem: text => {
            failed = true
            job.problems.push(text)
          },
          progress: async () => {
            if (this.o.clock.now() - lastSaved < 1000) return
            lastSaved = this.o.clock.now()
            await save()
          },
          signal: this.abort.signal
        })
      } catch (error) {
        failed = true
        job.problems.push(
          error instanceof GptbotsApiError ? error.message : `source "${source}": ${(error as Error).message}`
        )
      }
    }
    job.status = failed ? 'failed' : 'done'
    job.finishedAt = this.o.clock.now()
    await save().catch((error: unknown) => log.error({ err: error }, 'backfill: its record could not be stored'))
    const line = { ...span, status: job.status, ...job.figures, problems: job.problems }
    if (failed) log.warn(line, 'backfill: finished with problems; what it took in stays')
    else log.info(line, 'backfill: finished')
    this.o.observe?.(job)
    return job
  }
}
