import { createHash } from 'node:crypto'
import pg from 'pg'

/**
 * The channel on which replicas of one schema announce new messages. A hash keeps it within
 * PostgreSQL's 63-byte identifiers whatever the schema is called; two schemas sharing a channel
 * would only wake each other for nothing.
 */
export const channelFor = (schema: string) =>
  `gptbots_relay_${createHash('sha256').update(schema).digest('hex').slice(0, 24)}`

/** How long to wait before listening again after the connection was lost. */
const reconnectMs = 1000

/**
 * One connection that LISTENs on the schema's channel and calls `heard` when another replica
 * stored new work (a notification whose payload is not `self`). It outlives the server: when the
 * connection is lost it connects again every second, and calls `heard` once it is back, since
 * notifications sent meanwhile are lost.
 */
export class NotificationListener {
  private client?: pg.Client
  private timer?: NodeJS.Timeout
  private closed = false

  constructor(
    private readonly url: string,
    private readonly channel: string,
    private readonly self: string,
    private readonly heard: () => void
  ) {
    void this.listen()
  }

  private async listen(): Promise<void> {
    if (this.closed) return
    const client = new pg.Client({
      connectionString: this.url,
      keepAlive: true,
      connectionTimeoutMillis: 10_000,
      fallback_application_name: 'gptbots-relay'
    })
    // A lost connection ends it; 'end' (below) listens again. Unhandled, 'error' would end the process.
    client.on('error', () => {})
    client.on('notification', notification => {
      if (notification.payload !== this.self) this.heard()
    })
    client.once('end', () => {
      if (this.client === client) this.client = undefined
      this.again()
    })
    try {
      await client.connect()
      await client.query(`LISTEN ${pg.escapeIdentifier(this.channel)}`)
    } catch {
      await client.end().catch(() => {})
      this.again()
      return
    }
    if (this.closed) {
      await client.end().catch(() => {})
      return
    }
    this.client = client
    this.heard()
  }

  private again(): void {
    if (this.closed || this.timer) return
    this.timer = setTimeout(() => {
      this.timer = undefined
      void this.listen()
    }, reconnectMs)
    this.timer.unref()
  }

  async close(): Promise<void> {
    this.closed = true
    clearTimeout(this.timer)
    await this.client?.end().catch(() => {})
  }
}
