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

export const conversationHref = (source: string, conversationId: string) =>
  `/ui/conversation?${new URLSearchParams({ source, id: conversationId })}`

export function option(value: string, label: string, selected: string): Html {
  return html`<option value="${value}" ${value === selected ? html`selected` : ''}>${label}</option>`
}

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
