import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { DeskAuthor } from '../../src/message.js'
import type { DeskAnswer, HandoffDesk, HandoffRecord, HandoffRef, InboundRoute } from '../../src/relays/types.js'

export interface StoredReply extends HandoffRef {
  replyId: string
  text: string
  author: DeskAuthor
  ref: Record<string, unknown>
}

/**
 * A HandoffDesk kept in memory with the contract's answers, for testing a desk relay without the
 * core: what a relay told it is inspected by the test. `fail` makes the next calls throw, as a
 * store that is down would.
 */
export function memoryDesk() {
  const records = new Map<string, HandoffRecord>()
  const links = new Map<string, HandoffRef>()
  const replies: StoredReply[] = []
  const claims: (HandoffRef & { author: DeskAuthor })[] = []
  const closes: (HandoffRef & { author: DeskAuthor })[] = []
  const id = (ref: HandoffRef) => `${ref.source}\n${ref.handoffId}`
  let failing = 0
  const check = () => {
    if (failing > 0) {
      failing--
      throw new Error('the store is unavailable')
    }
  }
  const state = (ref: HandoffRef): HandoffRecord | DeskAnswer => {
    const record = records.get(id(ref))
    if (!record) return { status: 'unknown' }
    if (record.status === 'closed') return { status: 'closed', record: structuredClone(record) }
    return record
  }
  const desk: HandoffDesk = {
    noteMarker: () => '//',
    async reply(input) {
      check()
      if (input.text.trimStart().startsWith('//')) return { status: 'note' }
      const found = state(input)
      if ('status' in found && !('openedAt' in found)) return found
      if (replies.some(r => r.replyId === input.replyId)) return { status: 'duplicate' }
      replies.push(structuredClone(input))
      return { status: 'stored' }
    },
    async claim(input) {
      check()
      const found = state(input)
      if (!('openedAt' in found)) return found
      if (found.claimedBy) return { status: 'duplicate' }
      found.claimedBy = input.author
      claims.push(structuredClone(input))
      return { status: 'stored' }
    },
    async close(input) {
      check()
      const found = state(input)
      if (!('openedAt' in found)) return found
      found.status = 'closed'
      found.closedAt = Date.now()
      found.closedReason = 'AGENT'
      closes.push(structuredClone(input))
      return { status: 'stored' }
    },
    async record(ref) {
      check()
      const record = records.get(id(ref))
      return record && structuredClone(record)
    },
    async link(key, ref) {
      check()
      links.set(key, { source: ref.source, handoffId: ref.handoffId })
    },
    async find(key) {
      check()
      return links.get(key)
    }
  }
  return {
    desk,
    replies,
    claims,
    closes,
    links,
    /** A handoff GPTBots established. */
    open(ref: HandoffRef): void {
      records.set(id(ref), { ...ref, status: 'open', openedAt: Date.now() })
    },
    /** GPTBots' own close. */
    closeBy(ref: HandoffRef, reason: 'TIMEOUT' | 'USER_CLOSED'): void {
      const record = records.get(id(ref))!
      record.status = 'closed'
      record.closedReason = reason
      record.closedAt = Date.now()
    },
    fail(times: number): void {
      failing = times
    }
  }
}

/** Serves a relay's inbound route on loopback, raw body and all, as the app mounts it. */
export async function serveRoute(route: InboundRoute): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const answer = await route.handle({ headers: req.headers, rawBody: Buffer.concat(chunks), query: {} })
    res.statusCode = answer.status
    for (const [name, value] of Object.entries(answer.headers ?? {})) res.setHeader(name, value)
    if (answer.body === undefined) return res.end()
    if (typeof answer.body === 'string') return res.end(answer.body)
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify(answer.body))
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/relays/discord.desk/${route.path}`,
    close: () => {
      server.closeAllConnections()
      return new Promise(resolve => server.close(() => resolve()))
    }
  }
}
