import type { FastifyInstance } from 'fastify'
import type { ConversationFilter, ConversationSummary } from '../../store/types.js'
import type { UiContext } from '../context.js'
import { html, type Html } from '../html.js'
import { conversationHref, option, page, statusBadge, time } from '../layout.js'

export interface ConversationsData {
  relays: string[]
  query: { q: string; relay: string; status: string }
  conversations: ConversationSummary[]
  next?: string
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
        ${nextHref ? html`<a href="${nextHref}">Older conversations →</a>` : ''}
      </p>
    </section>`
}

const PAGE_SIZE = 50

/** GET /ui/conversations: the listing, filtered by the store's own query, one page at a time. */
export function conversationsPage(app: FastifyInstance, ui: UiContext): void {
  app.get('/conversations', { preHandler: ui.signedIn }, async (request, reply) => {
    const query = request.query as Record<string, string | undefined>
    const q = (query.q ?? '').slice(0, 256)
    const relay = query.relay ?? ''
    const status = ['pending', 'dead', 'delivered'].includes(query.status ?? '') ? query.status! : ''
    const layout = { title: 'Conversations', tab: 'conversations' as const, csrf: request.uiSession!.csrf }
    const listing = await ui.guarded(reply, layout, '/ui/conversations', () =>
      ui.service.conversations({
        limit: PAGE_SIZE,
        after: query.after || undefined,
        relay: relay || undefined,
        status: (status || undefined) as ConversationFilter['status'],
        search: q || undefined
      })
    )
    if (listing === undefined) return reply
    return ui.html(
      reply,
      page(
        { ...layout, live: true },
        conversationsMain({
          relays: ui.service.relayNames(),
          query: { q, relay, status },
          conversations: listing.conversations,
          next: listing.next
        })
      )
    )
  })
}
