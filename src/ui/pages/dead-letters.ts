import type { FastifyInstance } from 'fastify'
import type { DeliveryRecord } from '../../store/types.js'
import { RelayHttpError } from '../../errors.js'
import { formOf, type UiContext } from '../context.js'
import { html, type Html } from '../html.js'
import { confirmMain, conversationHref, csrfField, notice, option, page, statusBadge, time } from '../layout.js'

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
    <form method="post" action="/ui/dead-letters/replay" id="dead-form">
      ${csrfField(data.csrf)}
      <input type="hidden" name="relay" value="${data.relay}" />
      <div class="actions">
        <button type="submit">Replay selected…</button>
        <button type="submit" formaction="/ui/dead-letters/drop" class="danger">Drop selected…</button>
        ${
          data.relay
            ? html`<button type="submit" name="all" value="yes">Replay all of ${data.relay}…</button>
              <button type="submit" formaction="/ui/dead-letters/drop" name="all" value="yes" class="danger">Drop all of ${data.relay}…</button>`
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
                      <button type="submit" name="one" value="${d.id}" aria-label="${`Replay delivery ${d.id}`}">Replay…</button>
                      <button type="submit" formaction="/ui/dead-letters/drop" name="one" value="${d.id}" class="danger" aria-label="${`Drop delivery ${d.id}`}">Drop…</button>
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

const PAGE_SIZE = 50
const wholeNumber = (id: string) => /^\d{1,15}$/.test(id)

/** GET /ui/dead-letters: dead letters, oldest first, and what became of those replayed from here. */
function listing(app: FastifyInstance, ui: UiContext): void {
  app.get('/dead-letters', { preHandler: ui.signedIn }, async (request, reply) => {
    const query = request.query as Record<string, string | undefined>
    const relay = query.relay ?? ''
    const csrf = request.uiSession!.csrf
    const layout = { title: 'Dead letters', tab: 'dead-letters' as const, csrf }
    const afterId = query.afterId && wholeNumber(query.afterId) ? Number(query.afterId) : undefined
    const replayedIds = (query.replayed ?? '').split(',').filter(wholeNumber).slice(0, PAGE_SIZE).map(Number)
    const found = await ui.guarded(reply, layout, '/ui/dead-letters', () =>
      ui.service.deadLetters({ relay: relay || undefined, afterId, limit: PAGE_SIZE })
    )
    if (found === undefined) return reply
    // What became of the letters replayed from here: the delivery log's own entries.
    const replayed: DeliveryRecord[] = []
    for (const id of replayedIds) {
      const record = await ui.service.delivery(id)
      if (record) replayed.push(record)
    }
    const notice =
      query.done === 'replayed'
        ? `Replayed ${query.n ?? 0} dead letter(s).`
        : query.done === 'dropped'
          ? `Dropped ${query.n ?? 0} dead letter(s).`
          : undefined
    return ui.html(
      reply,
      page(
        { ...layout, live: true },
        deadLettersMain({
          relays: ui.service.relayNames(),
          relay,
          deadLetters: found.deadLetters,
          next: found.next,
          replayed,
          csrf,
          notice,
          error: query.failed
        })
      )
    )
  })
}

/** Which dead letters a form names: one (a row's button), the ticked ones, or all of the chosen relay. */
type Chosen = { all: true } | { all: false; ids: number[] }

function chosen(form: URLSearchParams): Chosen {
  if (form.get('all') === 'yes') return { all: true }
  const one = form.get('one')
  const ids = (one === null ? form.getAll('id') : [one]).filter(wholeNumber).map(Number)
  return { all: false, ids }
}

/** Asks first, naming what will happen; the answer posts the same form again with confirm=yes. */
function confirmPage(kind: 'replay' | 'drop', choice: Chosen, form: URLSearchParams, csrf: string, back: string) {
  const relay = form.get('relay') ?? ''
  const what = choice.all ? `every dead letter of ${relay}` : `${choice.ids.length} dead letter(s)`
  const fields: Record<string, string | string[]> = { relay }
  if (choice.all) fields.all = 'yes'
  else fields.id = choice.ids.map(String)
  return page(
    { title: kind === 'replay' ? 'Replay dead letters?' : 'Drop dead letters?', tab: 'dead-letters', csrf },
    confirmMain({
      question:
        kind === 'replay'
          ? `Send ${what} again? Each goes back to its place in its conversation's order.`
          : `Delete ${what} for good? They will not be delivered.`,
      detail: choice.all ? undefined : `Deliveries ${choice.ids.join(', ')}`,
      action: `/ui/dead-letters/${kind}`,
      fields,
      csrf,
      confirmLabel: kind === 'replay' ? 'Replay' : 'Drop for good',
      cancelHref: back,
      danger: kind === 'drop'
    })
  )
}

/** Replays or drops the chosen dead letters; the count, what was replayed and what was refused go back to the listing. */
async function act(ui: UiContext, kind: 'replay' | 'drop', relay: string, choice: Chosen) {
  let count = 0
  const touched: number[] = []
  const refused: string[] = []
  if (choice.all) {
    if (kind === 'replay') {
      // Noted first, so the page can show them turning into deliveries.
      const listed = await ui.service.deadLetters({ relay, limit: PAGE_SIZE })
      touched.push(...listed.deadLetters.map(d => d.id))
      count = await ui.service.replayDead({ relay })
    } else count = await ui.service.dropDead({ relay })
  } else {
    for (const id of choice.ids) {
      try {
        if (kind === 'replay') {
          count += await ui.service.replayDeadLetter(id)
          touched.push(id)
        } else count += await ui.service.dropDeadLetter(id)
      } catch (error) {
        if (!(error instanceof RelayHttpError)) throw error
        refused.push(`${id}: ${error.message}`)
      }
    }
  }
  const params = new URLSearchParams({ done: kind === 'replay' ? 'replayed' : 'dropped', n: String(count) })
  if (relay) params.set('relay', relay)
  if (touched.length > 0) params.set('replayed', touched.slice(0, PAGE_SIZE).join(','))
  if (refused.length > 0) params.set('failed', `Not done: ${refused.join('; ')}`.slice(0, 1000))
  return `/ui/dead-letters?${params}`
}

/** The dead letters page: the listing, and POST /ui/dead-letters/replay and /drop, each asking first. */
export function deadLettersPage(app: FastifyInstance, ui: UiContext): void {
  listing(app, ui)
  for (const kind of ['replay', 'drop'] as const) {
    app.post(`/dead-letters/${kind}`, { preHandler: ui.action }, async (request, reply) => {
      const form = formOf(request)
      const relay = form.get('relay') ?? ''
      const back = `/ui/dead-letters${relay ? `?${new URLSearchParams({ relay })}` : ''}`
      const choice = chosen(form)
      if (!choice.all && choice.ids.length === 0)
        return ui.refuse(reply, 'UI_ACTION', 'no dead letter was selected', back)
      if (choice.all && !relay) return ui.refuse(reply, 'UI_ACTION', 'choose a relay first', back)
      if (form.get('confirm') !== 'yes')
        return ui.html(reply, confirmPage(kind, choice, form, request.uiSession!.csrf, back))
      try {
        return reply.code(303).redirect(await act(ui, kind, relay, choice))
      } catch (error) {
        if (error instanceof RelayHttpError) return ui.refuse(reply, 'UI_ACTION', error.message, back)
        throw error
      }
    })
  }
}
