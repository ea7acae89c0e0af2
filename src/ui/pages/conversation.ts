import type { FastifyInstance } from 'fastify'
import type { RelayMessage } from '../../message.js'
import type { DeliveryAttempt, DeliveryRecord } from '../../store/types.js'
import { RelayHttpError } from '../../errors.js'
import { formOf, type UiContext } from '../context.js'
import { html, type Html } from '../html.js'
import { confirmMain, conversationHref, csrfField, notice, option, page, statusBadge, time } from '../layout.js'

export interface MessageEntry {
  seq: number
  message: RelayMessage
  deliveries: (Omit<DeliveryRecord, 'seq' | 'source' | 'conversationId' | 'messageId' | 'type'> & {
    history: DeliveryAttempt[]
  })[]
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

const outcomeLabels: Record<DeliveryAttempt['outcome'], [string, string]> = {
  retry: ['dead', 'failed, retried'],
  delivered: ['delivered', 'delivered'],
  dead: ['dead', 'gave up'],
  replayed: ['pending', 'replayed']
}

/** Every attempt and replay of a delivery, oldest first: when, what came of it, the platform's answer. */
function historyOf(history: DeliveryAttempt[]): Html {
  if (history.length === 0) return html``
  return html`<details class="history">
    <summary>History (${history.length})</summary>
    <ol>
      ${history.map(a => {
        const [badge, label] = outcomeLabels[a.outcome]
        return html`<li>${time(a.at)} ${a.attempt > 0 ? html`<span class="muted">attempt ${a.attempt}</span>` : ''} <span class="${`badge outcome outcome-${badge}`}">${label}</span>${postLink(a.posted)}
          ${postedIds(a.posted) ? html`<span class="muted id">${postedIds(a.posted)}</span>` : ''}
          ${a.error ? html`<span class="error-text">${a.error}</span>` : ''}</li>`
      })}
    </ol>
  </details>`
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
                ${historyOf(d.history)}
              </li>`
            )}
            ${deliveries.length === 0 ? html`<li class="muted">No relay takes this message.</li>` : ''}
          </ul>
        </li>`
      )}
    </ol>
    ${nextHref ? html`<p class="pager"><a href="${nextHref}">Later messages →</a></p>` : ''}`
}

/** GET /ui/conversation: one conversation's messages and deliveries; POST /ui/conversation/replay queues it again. */
export function conversationPage(app: FastifyInstance, ui: UiContext): void {
  app.get('/conversation', { preHandler: ui.signedIn }, async (request, reply) => {
    const query = request.query as Record<string, string | undefined>
    const source = query.source ?? ''
    const conversationId = query.id ?? ''
    const csrf = request.uiSession!.csrf
    const layout = { title: 'Conversation', tab: 'conversations' as const, csrf }
    const afterSeq = query.afterSeq && /^\d{1,15}$/.test(query.afterSeq) ? Number(query.afterSeq) : undefined
    // Not through a URL path: an id such as ".." cannot be a path segment.
    const listing = await ui.guarded(reply, layout, '/ui/conversations', () =>
      ui.service.conversation(source, conversationId, { afterSeq, limit: 100 })
    )
    if (listing === undefined) return reply
    const done = query.queued === undefined ? undefined : `Queued ${query.queued} message(s) for ${query.relay ?? ''}.`
    return ui.html(
      reply,
      page(
        { ...layout, live: true },
        conversationMain({
          source,
          conversationId,
          relays: ui.service.relayNames(),
          messages: listing.messages,
          next: listing.next,
          csrf,
          notice: done
        })
      )
    )
  })

  app.post('/conversation/replay', { preHandler: ui.action }, async (request, reply) => {
    const form = formOf(request)
    const source = form.get('source') ?? ''
    const conversationId = form.get('id') ?? ''
    const relay = form.get('relay') ?? ''
    const csrf = request.uiSession!.csrf
    const back = conversationHref(source, conversationId)
    if (form.get('confirm') !== 'yes') {
      return ui.html(
        reply,
        page(
          { title: 'Replay the conversation?', tab: 'conversations', csrf },
          confirmMain({
            question: `Send every message of this conversation again, in order, to ${relay}?`,
            detail: `${source} · ${conversationId}`,
            action: '/ui/conversation/replay',
            fields: { source, id: conversationId, relay },
            csrf,
            confirmLabel: `Replay into ${relay}`,
            cancelHref: back,
            danger: false
          })
        )
      )
    }
    try {
      const queued = await ui.service.replayConversation(source, conversationId, relay)
      return reply.code(303).redirect(`${back}&${new URLSearchParams({ queued: String(queued), relay })}`)
    } catch (error) {
      if (error instanceof RelayHttpError) return ui.refuse(reply, 'UI_ACTION', error.message, back)
      throw error
    }
  })
}
