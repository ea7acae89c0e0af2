import type { RelayMessage } from '../message.js'
import type { ConversationSummary, DeliveryRecord } from '../store/types.js'
import { html, type Html } from './html.js'

export type Tab = 'overview' | 'conversations' | 'dead-letters'

export interface Layout {
  title: string
  tab?: Tab
  /** The signed-in session's CSRF token; absent on the sign-in page. */
  csrf?: string
  /** Whether the page listens for live changes. */
  live?: boolean
}

const tabs: [Tab, string, string][] = [
  ['overview', 'Overview', '/ui'],
  ['conversations', 'Conversations', '/ui/conversations'],
  ['dead-letters', 'Dead letters', '/ui/dead-letters']
]

export function page(layout: Layout, main: Html): string {
  const nav =
    layout.csrf === undefined
      ? ''
      : html`<nav aria-label="Dashboard">
          <ul>
            ${tabs.map(
              ([tab, label, href]) =>
                html`<li><a href="${href}" ${tab === layout.tab ? html`aria-current="page"` : ''}>${label}</a></li>`
            )}
          </ul>
        </nav>
        <form method="post" action="/ui/logout" class="signout">
          ${csrfField(layout.csrf)}
          <button type="submit">Sign out</button>
        </form>`
  return html`<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <meta name="color-scheme" content="light dark" />
    <link rel="icon" href="/ui/assets/icon.svg" type="image/svg+xml" />
    <title>${layout.title} · gptbots-relay</title>
    <link rel="stylesheet" href="/ui/assets/app.css" />
    <script src="/ui/assets/app.js" defer></script>
  </head>
  <body ${layout.live ? html`data-live="/ui/events"` : ''}>
    <a class="skip" href="#main">Skip to content</a>
    <header>
      <p class="brand">gptbots-relay</p>
      ${nav}
    </header>
    <main id="main" tabindex="-1">
      <h1>${layout.title}</h1>
      ${main}
    </main>
    ${layout.live ? html`<p id="live-status" class="live" role="status" aria-live="polite">Live updates: connecting…</p>` : ''}
  </body>
</html>
`.value
}

export const csrfField = (token: string) => html`<input type="hidden" name="csrf" value="${token}" />`

/** A time as UTC text, with the machine-readable form beside it. */
export function time(ms: number | undefined): Html {
  if (ms === undefined) return html`—`
  const iso = new Date(ms).toISOString()
  return html`<time datetime="${iso}">${iso.slice(0, 19).replace('T', ' ')} UTC</time>`
}

export function age(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000))
  if (s < 60) return `${s} s`
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`
  if (s < 86_400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`
  return `${Math.floor(s / 86_400)} d ${Math.floor((s % 86_400) / 3600)} h`
}

export const statusBadge = (status: string, label: string = status) =>
  html`<span class="badge ${`badge-${status}`}">${label}</span>`

export function notice(text: string | undefined, kind: 'ok' | 'error' = 'ok'): Html {
  if (!text) return html``
  return html`<p class="${`notice notice-${kind}`}" role="${kind === 'error' ? 'alert' : 'status'}">${text}</p>`
}

// ---- sign in ----

export function loginPage(options: { nonce: string; error?: string }): string {
  return page(
    { title: 'Sign in' },
    html`${notice(options.error, 'error')}
      <form method="post" action="/ui/login" class="card login">
        <input type="hidden" name="nonce" value="${options.nonce}" />
        <label for="token">Admin token</label>
        <input id="token" name="token" type="password" autocomplete="current-password" required autofocus />
        <p class="hint">The relay's <code>admin.token</code>. It is sent once; the browser keeps only a session cookie.</p>
        <button type="submit">Sign in</button>
      </form>`
  )
}

// ---- overview ----

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

// ---- conversations ----

export interface ConversationsData {
  relays: string[]
  query: { q: string; relay: string; status: string }
  conversations: ConversationSummary[]
  next?: string
  scanned: number
  /** The listing was cut short by the scan limit rather than by its end. */
  more: boolean
}

export const conversationHref = (source: string, conversationId: string) =>
  `/ui/conversation?${new URLSearchParams({ source, id: conversationId })}`

function option(value: string, label: string, selected: string): Html {
  return html`<option value="${value}" ${value === selected ? html`selected` : ''}>${label}</option>`
}

const destinationsOf = (c: ConversationSummary) =>
  html`<ul class="dests">
    ${c.destinations.map(
      d => html`<li><span class="id">${d.relay}</span>
        ${d.delivered > 0 ? statusBadge('delivered', `${d.delivered} delivered`) : ''}
        ${d.pending > 0 ? statusBadge('pending', `${d.pending} pending`) : ''}
        ${d.dead > 0 ? statusBadge('dead', `${d.dead} dead`) : ''}</li>`
    )}
  </ul>`

export function conversationsMain(data: ConversationsData): Html {
  const { q, relay, status } = data.query
  const nextHref = data.next
    ? `/ui/conversations?${new URLSearchParams({ q, relay, status, after: data.next })}`
    : undefined
  return html`<form method="get" action="/ui/conversations" class="filters" role="search">
      <div>
        <label for="q">Conversation id contains</label>
        <input id="q" name="q" type="search" value="${q}" maxlength="256" />
      </div>
      <div>
        <label for="relay">Relay</label>
        <select id="relay" name="relay">
          ${option('', 'Any relay', relay)}${data.relays.map(name => option(name, name, relay))}
        </select>
      </div>
      <div>
        <label for="status">Status</label>
        <select id="status" name="status">
          ${option('', 'Any status', status)}${option('pending', 'Has pending', status)}${option('dead', 'Has dead letters', status)}${option('delivered', 'All delivered', status)}
        </select>
      </div>
      <button type="submit">Filter</button>
    </form>
    <section id="conversations" data-live aria-label="Conversations">
      ${
        data.conversations.length === 0
          ? html`<p class="muted">No conversation matches.</p>`
          : html`<div class="table-wrap"><table class="stack">
              <thead><tr><th scope="col">Conversation</th><th scope="col">Source</th><th scope="col" class="num">Messages</th><th scope="col">Last message</th><th scope="col">Deliveries</th></tr></thead>
              <tbody>
                ${data.conversations.map(
                  c => html`<tr>
                    <th scope="row" class="id"><a href="${conversationHref(c.source, c.conversationId)}">${c.conversationId}</a></th>
                    <td class="id" data-label="Source">${c.source}</td>
                    <td class="num" data-label="Messages">${c.messages}</td>
                    <td data-label="Last message">${time(c.lastReceivedAt)}</td>
                    <td data-label="Deliveries">${destinationsOf(c)}</td>
                  </tr>`
                )}
              </tbody>
            </table></div>`
      }
      <p class="pager">
        ${data.more ? html`<span class="muted">Searched ${data.scanned} conversations. </span>` : ''}
        ${nextHref ? html`<a href="${nextHref}">${data.more ? 'Search further' : 'Older conversations'} →</a>` : ''}
      </p>
    </section>`
}

// ---- one conversation ----

export interface MessageEntry {
  seq: number
  message: RelayMessage
  deliveries: Omit<DeliveryRecord, 'seq' | 'source' | 'conversationId' | 'messageId' | 'type'>[]
}

export interface ConversationData {
  source: string
  conversationId: string
  relays: string[]
  messages: MessageEntry[]
  next?: number
  csrf: string
  notice?: string
  error?: string
}

/** A link to the post, only when the relay gave one and it is a web address. */
function postLink(posted: Record<string, unknown> | undefined): Html {
  const link = posted?.link ?? posted?.url ?? posted?.permalink
  if (typeof link !== 'string' || !/^https?:\/\//i.test(link)) return html``
  return html` · <a href="${link}" rel="noopener noreferrer" target="_blank">view post</a>`
}

function postedIds(posted: Record<string, unknown> | undefined): string {
  if (!posted) return ''
  const parts: string[] = []
  for (const key of ['channel', 'threadTs', 'ts', 'target', 'messageIds', 'status']) {
    const value = posted[key]
    if (value === undefined || value === null) continue
    parts.push(`${key} ${Array.isArray(value) ? value.join(', ') : String(value)}`)
  }
  return parts.join(' · ')
}

const speaker = (type: string) => (type === 'QUESTION' ? 'User' : 'Bot')

function messageText(message: RelayMessage): string {
  if (message.text) return message.text
  return message.flowOutput
    .map(part => part.content ?? '')
    .filter(Boolean)
    .join('\n\n')
}

export function conversationMain(data: ConversationData): Html {
  const nextHref =
    data.next === undefined
      ? undefined
      : `${conversationHref(data.source, data.conversationId)}&${new URLSearchParams({ afterSeq: String(data.next) })}`
  return html`<p class="id subtitle">Source <strong>${data.source}</strong> · conversation <strong>${data.conversationId}</strong></p>
    ${notice(data.notice)}${notice(data.error, 'error')}
    <form method="post" action="/ui/conversation/replay" class="filters">
      ${csrfField(data.csrf)}
      <input type="hidden" name="source" value="${data.source}" />
      <input type="hidden" name="id" value="${data.conversationId}" />
      <div>
        <label for="replay-relay">Replay the whole conversation into</label>
        <select id="replay-relay" name="relay" required>
          ${data.relays.map(name => option(name, name, ''))}
        </select>
      </div>
      <button type="submit">Replay…</button>
    </form>
    <ol id="messages" class="messages" data-live aria-label="Messages">
      ${data.messages.map(
        ({ seq, message, deliveries }) => html`<li class="message">
          <div class="meta">
            <span class="${`speaker speaker-${message.type === 'QUESTION' ? 'user' : 'bot'}`}">${speaker(message.type)}</span>
            ${time(message.receivedAt)} <span class="muted">#${seq} · ${message.messageId}</span>
          </div>
          <p class="text">${messageText(message) || html`<span class="muted">(no text)</span>`}</p>
          <ul class="deliveries" aria-label="Deliveries">
            ${deliveries.map(
              d => html`<li>
                <span class="id">${d.relay}</span> ${statusBadge(d.status)}
                <span class="muted">${d.attempts} attempt${d.attempts === 1 ? '' : 's'} · ${time(d.updatedAt)}${postLink(d.posted)}</span>
                ${postedIds(d.posted) ? html`<span class="muted id">${postedIds(d.posted)}</span>` : ''}
                ${d.lastError ? html`<span class="error-text">${d.lastError}</span>` : ''}
              </li>`
            )}
            ${deliveries.length === 0 ? html`<li class="muted">No relay takes this message.</li>` : ''}
          </ul>
        </li>`
      )}
    </ol>
    ${nextHref ? html`<p class="pager"><a href="${nextHref}">Later messages →</a></p>` : ''}`
}

// ---- dead letters ----

export interface DeadLettersData {
  relays: string[]
  relay: string
  deadLetters: DeliveryRecord[]
  next?: number
  /** Deliveries replayed from this page, as they are now. */
  replayed: DeliveryRecord[]
  csrf: string
  notice?: string
  error?: string
}

export function deadLettersMain(data: DeadLettersData): Html {
  const nextHref =
    data.next === undefined
      ? undefined
      : `/ui/dead-letters?${new URLSearchParams({ relay: data.relay, afterId: String(data.next) })}`
  return html`${notice(data.notice)}${notice(data.error, 'error')}
    <form method="get" action="/ui/dead-letters" class="filters">
      <div>
        <label for="relay">Relay</label>
        <select id="relay" name="relay">
          ${option('', 'Every relay', data.relay)}${data.relays.map(name => option(name, name, data.relay))}
        </select>
      </div>
      <button type="submit">Filter</button>
    </form>
    ${
      data.replayed.length > 0
        ? html`<section id="replayed" data-live aria-labelledby="replayed-h">
            <h2 id="replayed-h">Replayed</h2>
            <ul class="deliveries">
              ${data.replayed.map(
                d => html`<li>Delivery ${d.id} · <span class="id">${d.relay}</span> · ${statusBadge(d.status)}
                  <a href="${conversationHref(d.source, d.conversationId)}" class="id">${d.conversationId}</a></li>`
              )}
            </ul>
          </section>`
        : ''
    }
    <form method="post" action="/ui/dead-letters/action" id="dead-form">
      ${csrfField(data.csrf)}
      <input type="hidden" name="relay" value="${data.relay}" />
      <div class="actions">
        <button type="submit" name="act" value="replay-selected">Replay selected…</button>
        <button type="submit" name="act" value="drop-selected" class="danger">Drop selected…</button>
        ${
          data.relay
            ? html`<button type="submit" name="act" value="replay-all">Replay all of ${data.relay}…</button>
              <button type="submit" name="act" value="drop-all" class="danger">Drop all of ${data.relay}…</button>`
            : html`<span class="hint">Choose a relay to act on all of its dead letters.</span>`
        }
      </div>
      <section id="dead-letters" data-live aria-label="Dead letters">
        ${
          data.deadLetters.length === 0
            ? html`<p class="muted">No dead letters.</p>`
            : html`<div class="table-wrap"><table class="stack">
              <thead><tr><th scope="col"><span class="visually-hidden">Select</span></th><th scope="col">Delivery</th><th scope="col">Relay</th><th scope="col">Conversation</th><th scope="col" class="num">Attempts</th><th scope="col">Last error</th><th scope="col">When</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
              <tbody>
                ${data.deadLetters.map(
                  d => html`<tr>
                    <td><input type="checkbox" name="id" value="${d.id}" id="${`dl-${d.id}`}" aria-label="${`Select delivery ${d.id}`}" /></td>
                    <td data-label="Delivery"><label for="${`dl-${d.id}`}">${d.id}</label></td>
                    <td class="id" data-label="Relay">${d.relay}</td>
                    <td class="id" data-label="Conversation"><a href="${conversationHref(d.source, d.conversationId)}">${d.conversationId}</a></td>
                    <td class="num" data-label="Attempts">${d.attempts}</td>
                    <td data-label="Last error"><span class="error-text">${d.lastError ?? ''}</span></td>
                    <td data-label="When">${time(d.updatedAt)}</td>
                    <td class="row-actions">
                      <button type="submit" name="act" value="${`replay-one:${d.id}`}" aria-label="${`Replay delivery ${d.id}`}">Replay…</button>
                      <button type="submit" name="act" value="${`drop-one:${d.id}`}" class="danger" aria-label="${`Drop delivery ${d.id}`}">Drop…</button>
                    </td>
                  </tr>`
                )}
              </tbody>
            </table></div>`
        }
        ${nextHref ? html`<p class="pager"><a href="${nextHref}">More dead letters →</a></p>` : ''}
      </section>
    </form>`
}

// ---- confirmation ----

export interface ConfirmData {
  question: string
  detail?: string
  action: string
  fields: Record<string, string | string[]>
  csrf: string
  confirmLabel: string
  cancelHref: string
  danger: boolean
}

export function confirmMain(data: ConfirmData): Html {
  const hidden = Object.entries(data.fields).flatMap(([name, value]) =>
    (Array.isArray(value) ? value : [value]).map(v => html`<input type="hidden" name="${name}" value="${v}" />`)
  )
  return html`<form method="post" action="${data.action}" class="card confirm">
    ${csrfField(data.csrf)}${hidden}
    <input type="hidden" name="confirm" value="yes" />
    <p>${data.question}</p>
    ${data.detail ? html`<p class="muted id">${data.detail}</p>` : ''}
    <div class="actions">
      <button type="submit" ${data.danger ? html`class="danger"` : ''} autofocus>${data.confirmLabel}</button>
      <a href="${data.cancelHref}" class="button-link">Cancel</a>
    </div>
  </form>`
}

export function errorMain(message: string, back: string): Html {
  return html`${notice(message, 'error')}<p><a href="${back}">Back</a></p>`
}
