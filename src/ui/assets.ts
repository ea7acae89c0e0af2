/**
 * The dashboard's one stylesheet and one script, served as files so the Content-Security-Policy can
 * forbid every inline script and style. They live in a module rather than beside it so that `tsc`
 * puts them in dist/ with the rest (the Dockerfile copies only dist/), with no build step of their own.
 */

export const css = `
:root {
  color-scheme: light dark;
  --bg: #f6f7f9; --fg: #1b1f24; --muted: #5b6470; --card: #ffffff; --line: #d6dae0;
  --accent: #0b5cad; --accent-fg: #ffffff; --focus: #f0a500;
  --ok-bg: #dff3e4; --ok-fg: #11602a; --warn-bg: #fff1cc; --warn-fg: #6b4d00;
  --bad-bg: #fde2e1; --bad-fg: #a1161b; --bar: #2f7ad1; --bar-zero: #c9ced6;
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #111418; --fg: #e4e7eb; --muted: #9aa3ad; --card: #1a1f25; --line: #2f3740;
    --accent: #5ea8ff; --accent-fg: #0b1520; --focus: #ffcc4d;
    --ok-bg: #123d22; --ok-fg: #8fe0a8; --warn-bg: #3f3210; --warn-fg: #f5d27a;
    --bad-bg: #4a1618; --bad-fg: #ffb3b0; --bar: #5ea8ff; --bar-zero: #3a434d;
  }
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg); }
a { color: var(--accent); }
:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
.skip { position: absolute; left: -999px; top: 0; background: var(--card); padding: .5rem 1rem; z-index: 2; }
.skip:focus { left: .5rem; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
header { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem 1.5rem; padding: .6rem 1rem;
  background: var(--card); border-bottom: 1px solid var(--line); }
.brand { margin: 0; font-weight: 700; }
nav ul { display: flex; flex-wrap: wrap; gap: .25rem 1rem; list-style: none; margin: 0; padding: 0; }
nav a { text-decoration: none; padding: .3rem .1rem; display: inline-block; }
nav a[aria-current="page"] { font-weight: 700; border-bottom: 3px solid var(--accent); }
.signout { margin-left: auto; }
main { max-width: 72rem; margin: 0 auto; padding: 1rem; }
main:focus { outline: none; }
h1 { font-size: 1.5rem; margin: .5rem 0 1rem; }
h2 { font-size: 1.15rem; margin: 1.5rem 0 .5rem; }
h3 { font-size: 1rem; margin: 0 0 .5rem; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 1rem; }
.grid { display: grid; gap: 1rem; grid-template-columns: repeat(auto-fit, minmax(14rem, 1fr)); }
.table-wrap { overflow-x: auto; background: var(--card); border: 1px solid var(--line); border-radius: 8px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .5rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
thead th { font-size: .85rem; color: var(--muted); font-weight: 600; }
tbody tr:last-child > * { border-bottom: 0; }
tbody th { font-weight: 600; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
.id, .text, .error-text, code { overflow-wrap: break-word; }
/* Conversation ids can be one long word: they may break anywhere; relay names stay whole. */
.id a, .text { overflow-wrap: anywhere; }
.id { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .9em; }
.muted, .hint { color: var(--muted); }
.hint { font-size: .85rem; }
.subtitle { margin-top: -.5rem; }
.error-text { color: var(--bad-fg); display: block; font-size: .88rem; white-space: pre-wrap; max-height: 12em; overflow: auto; }
.badge { display: inline-block; border-radius: 999px; padding: .05rem .55rem; font-size: .8rem; font-weight: 600; white-space: nowrap; }
.badge-delivered, .outcome-delivered { background: var(--ok-bg); color: var(--ok-fg); }
.badge-pending, .outcome-pending { background: var(--warn-bg); color: var(--warn-fg); }
.badge-dead, .outcome-dead { background: var(--bad-bg); color: var(--bad-fg); }
.notice { padding: .6rem .8rem; border-radius: 8px; border: 1px solid var(--line); }
.notice-ok { background: var(--ok-bg); color: var(--ok-fg); }
.notice-error { background: var(--bad-bg); color: var(--bad-fg); }
.summary { margin: .25rem 0 .75rem; }
.pairs { display: grid; grid-template-columns: 1fr auto; gap: .2rem 1rem; margin: 0; }
.pairs div { display: contents; }
.pairs dt { overflow-wrap: anywhere; }
.pairs dd { margin: 0; text-align: right; font-variant-numeric: tabular-nums; }
.spark-wrap { display: flex; flex-wrap: wrap; align-items: flex-end; gap: .25rem .5rem; }
.spark { display: block; flex: none; }
.spark-note { font-size: .8rem; color: var(--muted); white-space: nowrap; }
.spark .bar { fill: var(--bar); }
.spark .bar-zero { fill: var(--bar-zero); }
.filters { display: flex; flex-wrap: wrap; align-items: flex-end; gap: .75rem; margin: 0 0 1rem; }
.filters > div { display: flex; flex-direction: column; gap: .2rem; min-width: 10rem; flex: 1 1 12rem; max-width: 24rem; }
label { font-weight: 600; font-size: .9rem; }
input, select, button, .button-link { font: inherit; color: inherit; }
input[type="search"], input[type="password"], select { padding: .45rem .5rem; border: 1px solid var(--line);
  border-radius: 6px; background: var(--card); min-height: 2.5rem; width: 100%; }
input[type="checkbox"] { width: 1.2rem; height: 1.2rem; }
button, .button-link { display: inline-block; padding: .45rem .9rem; min-height: 2.5rem; border-radius: 6px; cursor: pointer;
  border: 1px solid var(--accent); background: var(--accent); color: var(--accent-fg); text-decoration: none; }
button.danger { background: transparent; color: var(--bad-fg); border-color: var(--bad-fg); }
.signout button, .button-link { background: transparent; color: var(--accent); }
.actions { display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; margin: 0 0 .75rem; }
.row-actions { white-space: nowrap; }
.row-actions button { padding: .2rem .6rem; min-height: 2rem; font-size: .85rem; }
.login { max-width: 26rem; display: flex; flex-direction: column; gap: .5rem; }
.confirm { max-width: 40rem; }
.dests { list-style: none; margin: 0; padding: 0; display: flex; flex-direction: column; gap: .2rem; }
.messages { list-style: none; padding: 0; margin: 0; display: flex; flex-direction: column; gap: .75rem; }
.message { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: .75rem 1rem; }
.meta { display: flex; flex-wrap: wrap; gap: .25rem .75rem; align-items: baseline; font-size: .88rem; }
.speaker { font-weight: 700; }
.speaker-user { color: var(--accent); }
.text { white-space: pre-wrap; margin: .4rem 0; max-height: 30em; overflow: auto; }
.deliveries { list-style: none; margin: .25rem 0 0; padding: .4rem 0 0; border-top: 1px dashed var(--line);
  display: flex; flex-direction: column; gap: .3rem; font-size: .9rem; }
.history summary { cursor: pointer; color: var(--muted); font-size: .85rem; }
.history ol { margin: .25rem 0 .25rem 1.25rem; padding: 0; display: flex; flex-direction: column; gap: .2rem; }
.history li > * { margin-right: .35rem; }
.pager { margin: .75rem 0; }
.live { position: fixed; right: .75rem; bottom: .5rem; margin: 0; padding: .2rem .6rem; font-size: .8rem;
  background: var(--card); border: 1px solid var(--line); border-radius: 999px; color: var(--muted); }
@media (max-width: 40rem) {
  main { padding: .75rem; }
  header { padding: .5rem .75rem; }
  header nav { order: 3; width: 100%; }
  .signout button { min-height: 2.25rem; padding: .3rem .7rem; }
  .live { position: static; margin: 1rem .75rem; display: inline-block; }
  /* Tables become one card per row, each cell with its column's name. */
  table.stack thead { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
  table.stack, table.stack tbody, table.stack tr, table.stack td, table.stack tbody th { display: block; width: 100%; }
  table.stack tr { padding: .5rem 0; border-bottom: 1px solid var(--line); }
  table.stack tbody tr:last-child { border-bottom: 0; }
  table.stack td, table.stack tbody th { border: 0; padding: .2rem .75rem; text-align: left; }
  table.stack td[data-label] { display: flex; gap: .75rem; align-items: baseline; }
  table.stack td[data-label]::before { content: attr(data-label); flex: 0 0 7.5rem; font-size: .8rem; font-weight: 600; color: var(--muted); }
  table.stack td[data-label] > * { min-width: 0; }
  table.stack td:not([data-label]) { display: inline-block; width: auto; }
  .row-actions { display: inline-flex !important; gap: .5rem; width: auto !important; }
}
`

export const js = `(() => {
  'use strict'
  const url = document.body.dataset.live
  const status = document.getElementById('live-status')
  const say = text => { if (status) status.textContent = text }
  if (!url) return
  if (!('EventSource' in window)) { say('Live updates are off in this browser: reload to refresh.'); return }
  let source
  let fetching = false
  let again = false
  let hellos = 0

  // Fetches this page again and swaps in its live parts, keeping ticked boxes and focus.
  async function refresh() {
    if (fetching) { again = true; return }
    fetching = true
    try {
      const response = await fetch(location.href, { credentials: 'same-origin', cache: 'no-store', headers: { 'x-ui-refresh': '1' } })
      if (response.redirected || response.status === 401) { stop(); say('Signed out: reload the page to sign in.'); return }
      if (!response.ok) { say('Live updates: the page could not be read (' + response.status + ').'); return }
      const fresh = new DOMParser().parseFromString(await response.text(), 'text/html')
      for (const part of fresh.querySelectorAll('[data-live][id]')) {
        const old = document.getElementById(part.id)
        if (!old) continue
        const ticked = new Set(Array.from(old.querySelectorAll('input[type=checkbox]:checked'), box => box.value))
        const focused = old.contains(document.activeElement) ? document.activeElement : null
        const focusKey = focused ? (focused.id || focused.getAttribute('value') || '') : ''
        const node = document.importNode(part, true)
        old.replaceWith(node)
        for (const box of node.querySelectorAll('input[type=checkbox]')) box.checked = ticked.has(box.value)
        if (focused && focusKey) {
          const again = document.getElementById(focusKey) || node.querySelector('[value="' + CSS.escape(focusKey) + '"]')
          if (again) again.focus()
        }
      }
      say('Live · updated ' + new Date().toLocaleTimeString())
    } catch {
      say('Live updates paused: the relay did not answer.')
    } finally {
      fetching = false
      if (again) { again = false; refresh() }
    }
  }

  function start() {
    source = new EventSource(url)
    source.addEventListener('hello', () => {
      say('Live updates on')
      // After a reconnect, changes may have been missed.
      if (hellos++ > 0) refresh()
    })
    source.addEventListener('change', refresh)
    source.addEventListener('error', () => {
      say(source && source.readyState === EventSource.CLOSED ? 'Live updates stopped: reload the page.' : 'Live updates: reconnecting…')
    })
  }
  function stop() {
    if (source) source.close()
    source = undefined
  }
  addEventListener('pagehide', stop)
  addEventListener('pageshow', event => { if (event.persisted && !source) start() })
  start()
})()
`

/** A tab icon, so that browsers do not ask for /favicon.ico (a 404 outside /ui). */
export const icon = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#0b5cad"/><path d="M3 8h7M7 4.5 10.5 8 7 11.5" stroke="#fff" stroke-width="2" fill="none" stroke-linecap="round" stroke-linejoin="round"/><circle cx="12.5" cy="8" r="1.5" fill="#fff"/></svg>`
