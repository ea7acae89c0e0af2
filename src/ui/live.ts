import type { ServerResponse } from 'node:http'

/** Where the hub gets its timer, so tests can tick it by hand and see that none is left running. */
export interface Timers {
  setInterval(callback: () => void, ms: number): unknown
  clearInterval(handle: unknown): void
}

export const systemTimers: Timers = {
  setInterval: (callback, ms) => setInterval(callback, ms).unref(),
  clearInterval: handle => clearInterval(handle as NodeJS.Timeout)
}

export interface LiveOptions {
  /** Reads what the pages show, reduced to a value that changes when they would. One read per tick, for every client. */
  snapshot: () => Promise<string>
  intervalMs: number
  /** A comment line every this many quiet ticks, so proxies keep the stream and dead peers are found. */
  heartbeatTicks: number
  maxClients: number
  maxPerSession: number
  timers: Timers
  onError: (error: unknown) => void
}

interface Client {
  session: string
  response: ServerResponse
}

/**
 * Server-sent events for every open dashboard page. One timer polls the store for all of them, and
 * only while at least one is connected; each change is one `change` event, after which a page
 * fetches itself again. Streams end when their session does, and when the relay closes.
 */
export class LiveHub {
  private readonly clients = new Set<Client>()
  private timer: unknown
  private polling = false
  private last: string | undefined
  private quietTicks = 0
  /** How many times the store was read, for tests and the curious. */
  polls = 0
  version = 0

  constructor(private readonly options: LiveOptions) {}

  get size(): number {
    return this.clients.size
  }

  get running(): boolean {
    return this.timer !== undefined
  }

  /** Takes over an answered request's socket as an event stream; false (and nothing written) when over the limits. */
  add(session: string, response: ServerResponse, headers: Record<string, string>): boolean {
    if (this.clients.size >= this.options.maxClients) return false
    let mine = 0
    for (const client of this.clients) if (client.session === session) mine++
    if (mine >= this.options.maxPerSession) return false
    const client = { session, response }
    this.clients.add(client)
    response.on('close', () => this.remove(client))
    response.writeHead(200, {
      ...headers,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no'
    })
    // A page that loses its stream waits this long before it tries again.
    response.write(`retry: 10000\nevent: hello\ndata: ${this.version}\n\n`)
    if (this.timer === undefined) {
      this.timer = this.options.timers.setInterval(() => void this.tick(), this.options.intervalMs)
    }
    // The first stream since the start reads its baseline now, not at its first tick: a change
    // made in between would otherwise become the baseline and never be announced.
    if (this.last === undefined) void this.tick()
    return true
  }

  private remove(client: Client): void {
    if (!this.clients.delete(client)) return
    if (!client.response.writableEnded) client.response.end()
    if (this.clients.size === 0) this.stop()
  }

  private stop(): void {
    if (this.timer === undefined) return
    this.options.timers.clearInterval(this.timer)
    this.timer = undefined
    // The last read is kept: a page that connects later may have been rendered before a change
    // that came while no stream was open (or before its first tick), and is told of it then.
  }

  /** Ends the streams of one session (signed out or expired). */
  endSession(session: string): void {
    for (const client of [...this.clients]) if (client.session === session) this.remove(client)
  }

  /** Ends every stream and the timer: the relay is closing. */
  close(): void {
    for (const client of [...this.clients]) this.remove(client)
    this.stop()
  }

  /** One poll: reads the store once and tells every page whether it changed. A tick during a slow read is skipped. */
  async tick(): Promise<void> {
    if (this.polling || this.clients.size === 0) return
    this.polling = true
    try {
      this.polls++
      const now = await this.options.snapshot()
      if (this.last !== undefined && now !== this.last) {
        this.version++
        this.quietTicks = 0
        this.send(`event: change\ndata: ${this.version}\n\n`)
      } else if (++this.quietTicks >= this.options.heartbeatTicks) {
        this.quietTicks = 0
        this.send(': still here\n\n')
      }
      this.last = now
    } catch (error) {
      this.options.onError(error)
    } finally {
      this.polling = false
    }
  }

  private send(frame: string): void {
    for (const client of [...this.clients]) {
      if (client.response.destroyed) this.remove(client)
      else client.response.write(frame)
    }
  }
}
