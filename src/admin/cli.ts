import { parseArgs } from 'node:util'

/**
 * The admin commands talk HTTP to a running relay's admin API: the relay holds its store (SQLite
 * locks it), so the commands never open it themselves.
 */

const common = `  --url URL            the relay (default http://127.0.0.1:$PORT, PORT defaulting to 8080)
  --admin-token T      its admin.token (default $GPTBOTS_RELAY_ADMIN_TOKEN)
  --json               print the API's JSON answer instead of lines
  -h, --help           show this help`

export const adminUsage = {
  'dead-letters': `Usage: gptbots-relay dead-letters [--relay R] [--source S] [--conversation C] [--limit N]

Lists dead letters, oldest first: deliveries a relay gave up on, with their last error. Replay one
with "gptbots-relay replay <id>".

Options:
  --relay R            only this relay's
  --source S           only this webhook source's ("default" is POST /webhook)
  --conversation C     only this conversation's
  --limit N            at most N (default 1000)
${common}`,
  replay: `Usage: gptbots-relay replay <delivery-id>
       gptbots-relay replay --relay R [--conversation C [--source S]]
       gptbots-relay replay --conversation C [--source S] --to RELAY

The first form makes one dead letter pending again, and the second every dead letter of relay R
(optionally of one conversation). A replayed letter keeps its place: it goes out before later
messages still waiting in its conversation. The third form sends a whole conversation again, in
order, to RELAY (for example one just added), after what that relay already has queued for it.
Delivery is at least once: a relay may get a message it already posted.

Options:
  --relay R            replay the dead letters of this relay
  --conversation C     a conversation id
  --source S           the conversation's webhook source (default "default", i.e. POST /webhook)
  --to RELAY           replay the whole conversation into this relay
${common}`,
  conversations: `Usage: gptbots-relay conversations [--source S] [--limit N]
       gptbots-relay conversations --conversation C [--source S]

Lists conversations, most recently active first, with how many of their deliveries are pending,
delivered and dead per relay. With --conversation, lists that conversation's messages in order,
each with its deliveries.

Options:
  --source S           only this webhook source's (with --conversation: default "default")
  --conversation C     show this conversation's messages
  --limit N            at most N (default 1000)
${common}`
} as const

export type AdminCommand = keyof typeof adminUsage

export const isAdminCommand = (command: string): command is AdminCommand => Object.hasOwn(adminUsage, command)

interface Client {
  call<T>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: object): Promise<T>
}

/** Turns what the relay answered (or that it did not) into a sentence an operator can act on. */
function adminClient(base: string, token: string | undefined): Client {
  return {
    async call<T>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: object): Promise<T> {
      let response: Response
      try {
        response = await fetch(`${base.replace(/\/+$/, '')}${path}`, {
          method,
          headers: {
            ...(token ? { authorization: `Bearer ${token}` } : {}),
            ...(body ? { 'content-type': 'application/json' } : {})
          },
          body: body ? JSON.stringify(body) : undefined,
          signal: AbortSignal.timeout(15000)
        })
      } catch (error) {
        const reason = (error as { cause?: { code?: string; message?: string } }).cause
        throw new Error(
          `cannot reach the relay at ${base}: ${reason?.code ?? reason?.message ?? (error as Error).message}; is it running there? (set --url, or PORT)`
        )
      }
      const text = await response.text()
      let answer: unknown
      try {
        answer = JSON.parse(text)
      } catch {
        answer = undefined
      }
      if (response.ok && answer !== undefined) return answer as T
      const code = response.headers.get('x-relay-error')
      const msg = (answer as { msg?: unknown } | undefined)?.msg
      if (code === 'ADMIN_DISABLED')
        throw new Error(
          `the admin API of the relay at ${base} is disabled: set admin.token in its config, then reload or restart it`
        )
      if (code === 'ADMIN_AUTH') {
        throw new Error(
          token
            ? `the relay at ${base} refused the admin token: pass its admin.token with --admin-token or $GPTBOTS_RELAY_ADMIN_TOKEN`
            : `no admin token given: pass the relay's admin.token with --admin-token or $GPTBOTS_RELAY_ADMIN_TOKEN`
        )
      }
      if (code === 'ROUTE_NOT_FOUND')
        throw new Error(`${base} has no admin API (HTTP ${response.status}); is it a gptbots-relay of this version?`)
      throw new Error(
        `the relay answered HTTP ${response.status}${code ? ` ${code}` : ''}: ${typeof msg === 'string' ? msg : text.slice(0, 300)}`
      )
    }
  }
}

const time = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z')
const oneLine = (text: string) => text.replace(/\s+/g, ' ').trim()
const segment = (value: string) => encodeURIComponent(value)

/** Columns padded to their widest cell; the last one runs free. */
function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map(r => r[i]!.length)))
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd()
  return [line(header), ...rows.map(line)].join('\n')
}

function positiveInteger(value: string | undefined, option: string, fallback: number): number {
  if (value === undefined) return fallback
  if (!/^[1-9]\d*$/.test(value)) throw new Error(`${option} must be a positive whole number, not "${value}"`)
  return Number(value)
}

interface DeadLetter {
  id: number
  relay: string
  source: string
  conversationId: string
  messageId: string
  type: string
  attempts: number
  lastError?: string
  updatedAt: number
}
interface Conversation {
  source: string
  conversationId: string
  messages: number
  lastReceivedAt: number
  destinations: { relay: string; pending: number; delivered: number; dead: number }[]
}
interface MessageEntry {
  seq: number
  message: { messageId: string; type: string; text?: string; receivedAt: number }
  deliveries: { id: number; relay: string; status: string; attempts: number; lastError?: string }[]
}

/** Follows `next` until the list ends or `limit` entries are in. */
async function collect<T, C = number>(
  limit: number,
  page: (size: number, cursor: C | undefined) => Promise<{ items: T[]; next?: C }>
): Promise<T[]> {
  const all: T[] = []
  let cursor: C | undefined
  while (all.length < limit) {
    const { items, next } = await page(Math.min(1000, limit - all.length), cursor)
    all.push(...items)
    if (next === undefined || items.length === 0) break
    cursor = next
  }
  return all
}

async function deadLetters(
  client: Client,
  options: Record<string, string | boolean | undefined>,
  json: boolean
): Promise<void> {
  const limit = positiveInteger(options.limit as string | undefined, '--limit', 1000)
  const filter = new URLSearchParams()
  for (const [option, param] of [
    ['relay', 'relay'],
    ['source', 'source'],
    ['conversation', 'conversationId']
  ] as const) {
    if (typeof options[option] === 'string') filter.set(param, options[option])
  }
  const letters = await collect<DeadLetter>(limit, async (size, cursor) => {
    const query = new URLSearchParams(filter)
    query.set('limit', String(size))
    if (cursor !== undefined) query.set('afterId', String(cursor))
    const page = await client.call<{ deadLetters: DeadLetter[]; next?: number }>('GET', `/admin/dead-letters?${query}`)
    return { items: page.deadLetters, next: page.next }
  })
  if (json) return console.log(JSON.stringify({ deadLetters: letters }, null, 2))
  if (letters.length === 0) return console.log('no dead letters')
  console.log(
    table(
      ['ID', 'RELAY', 'CONVERSATION', 'MESSAGE', 'ATTEMPTS', 'DIED', 'LAST ERROR'],
      letters.map(d => [
        String(d.id),
        d.relay,
        `${d.source}/${d.conversationId}`,
        `${d.messageId} (${d.type})`,
        String(d.attempts),
        time(d.updatedAt),
        oneLine(d.lastError ?? '')
      ])
    )
  )
  console.log(
    `\n${letters.length} dead letter(s); replay one with "gptbots-relay replay <ID>", or all of a relay with "gptbots-relay replay --relay <RELAY>"`
  )
}

async function replay(
  client: Client,
  options: Record<string, string | boolean | undefined>,
  positionals: string[],
  json: boolean
): Promise<void> {
  const relay = options.relay as string | undefined
  const to = options.to as string | undefined
  const conversation = options.conversation as string | undefined
  const source = (options.source as string | undefined) ?? 'default'
  const forms = [positionals.length > 0, relay !== undefined, to !== undefined].filter(Boolean).length
  if (forms !== 1 || positionals.length > 1)
    throw new Error(
      `replay needs exactly one of: a delivery id, --relay R, or --conversation C --to RELAY\n\n${adminUsage.replay}`
    )

  if (positionals[0] !== undefined) {
    const id = positiveInteger(positionals[0], 'the delivery id', 0)
    const answer = await client.call<{ replayed: number }>('POST', `/admin/dead-letters/${id}/replay`)
    return console.log(
      json
        ? JSON.stringify(answer)
        : `replayed dead letter ${id}; it goes out before later messages of its conversation`
    )
  }
  if (relay !== undefined) {
    const body =
      conversation === undefined
        ? { relay, ...(options.source ? { source } : {}) }
        : { relay, source, conversationId: conversation }
    const answer = await client.call<{ replayed: number }>('POST', '/admin/dead-letters/replay', body)
    const scope =
      conversation === undefined ? (options.source ? ` from source "${source}"` : '') : ` in ${source}/${conversation}`
    return console.log(
      json ? JSON.stringify(answer) : `replayed ${answer.replayed} dead letter(s) of relay "${relay}"${scope}`
    )
  }
  if (conversation === undefined)
    throw new Error(`--to needs --conversation C (and --source S unless it is "default")\n\n${adminUsage.replay}`)
  const answer = await client.call<{ queued: number }>(
    'POST',
    `/admin/conversations/${segment(source)}/${segment(conversation)}/replay`,
    { relay: to }
  )
  console.log(
    json
      ? JSON.stringify(answer)
      : `queued ${answer.queued} message(s) of ${source}/${conversation} for relay "${to}", in order`
  )
}

async function conversations(
  client: Client,
  options: Record<string, string | boolean | undefined>,
  json: boolean
): Promise<void> {
  const limit = positiveInteger(options.limit as string | undefined, '--limit', 1000)
  const conversation = options.conversation as string | undefined
  if (conversation !== undefined) {
    const source = (options.source as string | undefined) ?? 'default'
    const messages = await collect<MessageEntry>(limit, async (size, cursor) => {
      const query = new URLSearchParams({ limit: String(size) })
      if (cursor !== undefined) query.set('afterSeq', String(cursor))
      const page = await client.call<{ messages: MessageEntry[]; next?: number }>(
        'GET',
        `/admin/conversations/${segment(source)}/${segment(conversation)}/messages?${query}`
      )
      return { items: page.messages, next: page.next }
    })
    if (json) return console.log(JSON.stringify({ source, conversationId: conversation, messages }, null, 2))
    for (const { seq, message, deliveries } of messages) {
      const text = oneLine(message.text ?? '')
      console.log(
        `#${seq} ${time(message.receivedAt)} ${message.messageId} (${message.type})${text ? ` ${text.length > 70 ? `${text.slice(0, 69)}…` : text}` : ''}`
      )
      for (const d of deliveries) {
        console.log(
          `    → ${d.relay}: ${d.status}${d.attempts > 0 ? ` after ${d.attempts} attempt(s)` : ''}${d.lastError ? ` (${oneLine(d.lastError)})` : ''} [delivery ${d.id}]`
        )
      }
      if (deliveries.length === 0) console.log('    → no relay')
    }
    return
  }
  const filter: Record<string, string> = typeof options.source === 'string' ? { source: options.source } : {}
  const list = await collect<Conversation, string>(limit, async (size, cursor) => {
    const query = new URLSearchParams({ ...filter, limit: String(size) })
    if (cursor !== undefined) query.set('after', cursor)
    const page = await client.call<{ conversations: Conversation[]; next?: string }>(
      'GET',
      `/admin/conversations?${query}`
    )
    return { items: page.conversations, next: page.next }
  })
  if (json) return console.log(JSON.stringify({ conversations: list }, null, 2))
  if (list.length === 0) return console.log('no conversations stored')
  console.log(
    table(
      ['CONVERSATION', 'MESSAGES', 'LAST ACTIVE', 'DESTINATIONS (pending/delivered/dead)'],
      list.map(c => [
        `${c.source}/${c.conversationId}`,
        String(c.messages),
        time(c.lastReceivedAt),
        c.destinations.map(d => `${d.relay} ${d.pending}/${d.delivered}/${d.dead}`).join(', ') || 'none'
      ])
    )
  )
}

/** Runs one admin command; failures are thrown as Errors whose message is the whole story. */
export async function runAdminCommand(command: AdminCommand, args: string[]): Promise<void> {
  let parsed
  try {
    parsed = parseArgs({
      args,
      allowPositionals: command === 'replay',
      options: {
        help: { type: 'boolean', short: 'h' },
        json: { type: 'boolean' },
        url: { type: 'string' },
        'admin-token': { type: 'string' },
        relay: { type: 'string' },
        source: { type: 'string' },
        conversation: { type: 'string' },
        limit: { type: 'string' },
        to: { type: 'string' }
      }
    })
  } catch (error) {
    throw new Error(`${(error as Error).message}\n\n${adminUsage[command]}`)
  }
  const { values, positionals } = parsed
  if (values.help) return console.log(adminUsage[command])
  const allowed: Record<AdminCommand, string[]> = {
    'dead-letters': ['relay', 'source', 'conversation', 'limit'],
    replay: ['relay', 'source', 'conversation', 'to'],
    conversations: ['source', 'conversation', 'limit']
  }
  for (const option of ['relay', 'source', 'conversation', 'limit', 'to']) {
    if (values[option as keyof typeof values] !== undefined && !allowed[command].includes(option)) {
      throw new Error(`${command} does not take --${option}\n\n${adminUsage[command]}`)
    }
  }
  const base = values.url ?? `http://127.0.0.1:${process.env.PORT ?? 8080}`
  try {
    new URL(base)
  } catch {
    throw new Error(`--url must be a URL such as http://127.0.0.1:8080, not "${base}"`)
  }
  const client = adminClient(base, values['admin-token'] ?? (process.env.GPTBOTS_RELAY_ADMIN_TOKEN || undefined))
  const json = values.json === true
  switch (command) {
    case 'dead-letters':
      return deadLetters(client, values, json)
    case 'replay':
      return replay(client, values, positionals, json)
    case 'conversations':
      return conversations(client, values, json)
  }
}
