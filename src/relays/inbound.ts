import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { Errors } from '../errors.js'
import type { Relay } from './types.js'

/**
 * Mounts the relays' own routes (Relay.inbound) at POST /relays/{relay}/{path}. Bodies are handed
 * over raw, whatever their type, because platforms sign the bytes. The relays are looked up per
 * request, so a reloaded relay's routes are the ones that answer.
 */
export async function inboundRoutes(app: FastifyInstance, options: { relays: () => ReadonlyMap<string, Relay> }) {
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body))

  app.post('/relays/:relay/*', async (request: FastifyRequest, reply: FastifyReply) => {
    const { relay: name, '*': path } = request.params as { relay: string; '*': string }
    const route = options
      .relays()
      .get(name)
      ?.inbound?.find(r => r.path === path)
    if (!route) {
      return reply
        .code(404)
        .header('x-relay-error', 'ROUTE_NOT_FOUND')
        .send({ code: 404, msg: `no relay route POST /relays/${name}/${path}` })
    }
    const rawBody = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0)
    let answer
    try {
      answer = await route.handle({
        headers: request.headers,
        rawBody,
        query: request.query as Record<string, string | undefined>
      })
    } catch (error) {
      request.log.error({ err: error, relay: name, path }, 'relay route failed')
      return reply.code(500).header('x-relay-error', 'INTERNAL').send({ code: 500, msg: Errors.INTERNAL.message })
    }
    reply.code(answer.status)
    for (const [key, value] of Object.entries(answer.headers ?? {})) reply.header(key, value)
    if (answer.body === undefined) return reply.send()
    if (typeof answer.body === 'string')
      return reply.type(answer.headers?.['content-type'] ?? 'text/plain').send(answer.body)
    return reply.type('application/json; charset=utf-8').send(JSON.stringify(answer.body))
  })
}
