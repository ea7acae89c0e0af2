import type { FastifyInstance } from 'fastify'
import type { Clock } from '../../clock.js'
import type { Readiness } from '../../ops/readiness.js'
import type { UiContext } from '../context.js'
import { html, type Html } from '../html.js'
import { age, notice, page, statusBadge } from '../layout.js'
import { counterBy, type DeliveredPerMinute } from '../rates.js'

export interface RelayRow {
  name: string
  ready: string
  series?: number[]
  pending: number
  dead: number
  /** How long the relay's oldest undelivered message has waited; undefined when none waits. */
  oldestPendingAgeMs?: number
  rateLimited?: number
}

export interface OverviewData {
  relays: RelayRow[]
  oldestPendingAgeMs?: number
  backlogError?: string
  accepted?: Record<string, number>
  duplicates?: number
  probes?: number
  refused?: Record<string, number>
  store: { driver: string; state: string }
  metrics: boolean
}

function sparkline(series: number[]): Html {
  const max = Math.max(1, ...series)
  const barWidth = 4
  const height = 28
  const bars = series.map((n, i) => {
    const h = n === 0 ? 1 : Math.max(2, Math.round((n / max) * height))
    return html`<rect class="${n === 0 ? 'bar-zero' : 'bar'}" x="${i * barWidth}" y="${height - h}" width="${barWidth - 1}" height="${h}"></rect>`
  })
  const now = series.at(-1) ?? 0
  return html`<span class="spark-wrap"><svg class="spark" viewBox="${`0 0 ${series.length * barWidth} ${height}`}" width="${series.length * barWidth}" height="${height}" role="img" aria-label="${`Delivered per minute over the last ${series.length} minutes: at most ${Math.max(...series)}, ${now} this minute`}">${bars}</svg><span class="spark-note" aria-hidden="true">${now} now · peak ${Math.max(...series)}</span></span>`
}

const counts = (record: Record<string, number> | undefined, empty: string) => {
  const entries = Object.entries(record ?? {}).filter(([, n]) => n > 0)
  if (entries.length === 0) return html`<p class="muted">${empty}</p>`
  return html`<dl class="pairs">
    ${entries.sort(([a], [b]) => a.localeCompare(b)).map(([key, n]) => html`<div><dt>${key}</dt><dd>${n}</dd></div>`)}
  </dl>`
}

export function overviewMain(data: OverviewData): Html {
  const off = html`<span class="muted" title="metrics are off in the config">n/a</span>`
  return html`<section aria-labelledby="relays-h" id="relays" data-live>
      <h2 id="relays-h">Relays</h2>
      ${data.backlogError ? notice(`The outbox could not be read: ${data.backlogError}`, 'error') : ''}
      <p class="summary">
        Oldest undelivered message:
        <strong>${data.oldestPendingAgeMs === undefined ? 'none waiting' : age(data.oldestPendingAgeMs)}</strong>
      </p>
      <div class="table-wrap">
        <table class="stack">
          <thead>
            <tr>
              <th scope="col">Relay</th>
              <th scope="col">Readiness</th>
              <th scope="col">Delivered / min (30 min)</th>
              <th scope="col" class="num">Backlog</th>
              <th scope="col" class="num">Oldest waiting</th>
              <th scope="col" class="num">Dead letters</th>
              <th scope="col" class="num">429s</th>
            </tr>
          </thead>
          <tbody>
            ${data.relays.map(
              relay => html`<tr>
                <th scope="row" class="id">${relay.name}</th>
                <td data-label="Readiness">${relay.ready === 'ok' ? statusBadge('delivered', 'ready') : html`${statusBadge('dead', 'not ready')} <span class="error-text">${relay.ready}</span>`}</td>
                <td data-label="Delivered / min">${relay.series ? sparkline(relay.series) : off}</td>
                <td class="num" data-label="Backlog">${relay.pending}</td>
                <td class="num" data-label="Oldest waiting">${relay.oldestPendingAgeMs === undefined ? html`<span class="muted">none</span>` : age(relay.oldestPendingAgeMs)}</td>
                <td class="num" data-label="Dead letters">${relay.dead > 0 ? html`<a href="${`/ui/dead-letters?relay=${encodeURIComponent(relay.name)}`}">${relay.dead}</a>` : 0}</td>
                <td class="num" data-label="429s">${relay.rateLimited ?? off}</td>
              </tr>`
            )}
          </tbody>
        </table>
      </div>
    </section>
    <section aria-labelledby="intake-h" id="intake" data-live>
      <h2 id="intake-h">Intake</h2>
      <div class="grid">
        <div class="card">
          <h3>Accepted</h3>
          ${data.metrics ? counts(data.accepted, 'Nothing accepted since the relay started.') : html`<p class="muted">Metrics are off.</p>`}
          ${data.metrics ? html`<p class="muted">Duplicates acknowledged: ${data.duplicates ?? 0} · probes: ${data.probes ?? 0}</p>` : ''}
        </div>
        <div class="card">
          <h3>Refused, by cause</h3>
          ${data.metrics ? counts(data.refused, 'Nothing refused since the relay started.') : html`<p class="muted">Metrics are off.</p>`}
        </div>
        <div class="card">
          <h3>Store</h3>
          <p>${data.store.driver} · ${data.store.state === 'ok' ? statusBadge('delivered', 'ok') : html`${statusBadge('dead', 'failing')} <span class="error-text">${data.store.state}</span>`}</p>
        </div>
      </div>
      ${data.metrics ? html`<p class="hint">Counts since this relay process started (this replica).</p>` : ''}
    </section>`
}

export interface OverviewOptions {
  clock: Clock
  registry?: import('prom-client').Registry
  readiness: () => Promise<Readiness>
  rates: DeliveredPerMinute
}

/** GET /ui: each relay's readiness, rate, backlog and dead letters, and what intake took and refused. */
export function overviewPage(app: FastifyInstance, ui: UiContext, options: OverviewOptions): void {
  const { clock, registry, rates } = options
  app.get('/', { preHandler: ui.signedIn }, async (request, reply) => {
    await rates.sample()
    const [backlog, ready, rateLimited, accepted, duplicates, probes, refused] = await Promise.all([
      ui.service.backlog().catch((error: Error) => error),
      options.readiness(),
      counterBy(registry, 'gptbots_relay_delivery_rate_limited_total', 'relay'),
      counterBy(registry, 'gptbots_relay_messages_received_total', 'source'),
      counterBy(registry, 'gptbots_relay_messages_duplicate_total', 'source'),
      counterBy(registry, 'gptbots_relay_probes_total', 'source'),
      counterBy(registry, 'gptbots_relay_webhooks_rejected_total', 'code')
    ])
    const rows: { relay: string; pending: number; dead: number; oldestPendingAt?: number }[] =
      backlog instanceof Error ? ui.service.relayNames().map(relay => ({ relay, pending: 0, dead: 0 })) : backlog.relays
    const oldestPendingAt = backlog instanceof Error ? undefined : backlog.stats.oldestPendingAt
    const ageOf = (at: number | undefined) => (at === undefined ? undefined : Math.max(0, clock.now() - at))
    const sum = (record: Record<string, number> | undefined) =>
      record === undefined ? undefined : Object.values(record).reduce((a, b) => a + b, 0)
    return ui.html(
      reply,
      page(
        { title: 'Overview', tab: 'overview', csrf: request.uiSession!.csrf, live: true },
        overviewMain({
          relays: rows.map(row => ({
            name: row.relay,
            ready: ready.relays[row.relay] ?? 'not configured: its messages wait until it is',
            series: rates.available ? rates.series(row.relay) : undefined,
            pending: row.pending,
            dead: row.dead,
            oldestPendingAgeMs: ageOf(row.oldestPendingAt),
            rateLimited: registry ? (rateLimited?.[row.relay] ?? 0) : undefined
          })),
          oldestPendingAgeMs: ageOf(oldestPendingAt),
          backlogError: backlog instanceof Error ? backlog.message : undefined,
          accepted,
          duplicates: sum(duplicates),
          probes: sum(probes),
          refused,
          store: { driver: app.relay.config.store.driver, state: ready.store },
          metrics: registry !== undefined
        })
      )
    )
  })
}
