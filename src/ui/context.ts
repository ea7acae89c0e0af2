import type { TLSSocket } from 'node:tls'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { AdminService } from '../admin/service.js'
import { Errors, RelayHttpError, type ErrorCode } from '../errors.js'
import { errorMain, type Layout, page } from './layout.js'
import { sameSecret } from './sessions.js'

/** What every page of the dashboard shares: the admin service and the answers a page gives. */
export interface UiContext {
  /** Every read and repair goes through the admin service, the one the admin API calls. */
  service: AdminService
  html(reply: FastifyReply, body: string, status?: number): FastifyReply
  /** A refusal as a page, with the error's code in a header. */
  refuse(reply: FastifyReply, code: ErrorCode, message: string, back?: string): FastifyReply
  /**
   * Runs `read`; a refusal of the admin service is answered as an error page in `layout`, and then
   * this gives undefined (the reply is sent).
   */
  guarded<T>(reply: FastifyReply, layout: Layout, back: string, read: () => Promise<T>): Promise<T | undefined>
  /** A preHandler: pages want a session. */
  signedIn(request: FastifyRequest, reply: FastifyReply): Promise<unknown>
  /** A preHandler: actions want a session and its CSRF token in the form, from a page of this origin. */
  action(request: FastifyRequest, reply: FastifyReply): Promise<unknown>
}

const first = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value)?.split(',')[0]?.trim()

/** Whether the request came over TLS, directly or (when the config trusts it) through a proxy. */
export const secure = (app: FastifyInstance, request: FastifyRequest) =>
  (request.raw.socket as TLSSocket).encrypted === true ||
  (app.relay.config.admin.trustForwardedProto === true && first(request.headers['x-forwarded-proto']) === 'https')

/** Whether a form post comes from the dashboard's own pages, as far as the browser tells. */
export function sameOrigin(app: FastifyInstance, request: FastifyRequest): boolean {
  const site = first(request.headers['sec-fetch-site'])
  if (site !== undefined && site !== 'same-origin') return false
  const origin = first(request.headers.origin)
  if (origin === undefined) return true
  const hosts = [request.headers.host]
  if (app.relay.config.admin.trustForwardedProto === true) hosts.push(first(request.headers['x-forwarded-host']))
  try {
    const from = new URL(origin)
    // Both sides through the URL parser, so a default port written out (":80") compares equal.
    return hosts.some(host => host !== undefined && new URL(`${from.protocol}//${host}`).host === from.host)
  } catch {
    return false
  }
}

/** The form an action posted, once `action` let it through. */
export const formOf = (request: FastifyRequest) => request.body as URLSearchParams

export function uiContext(app: FastifyInstance, service: AdminService): UiContext {
  const html = (reply: FastifyReply, body: string, status = 200) =>
    reply.code(status).header('cache-control', 'no-store').type('text/html; charset=utf-8').send(body)

  const refuse = (reply: FastifyReply, code: ErrorCode, message: string, back = '/ui') =>
    html(
      reply.header('x-relay-error', code),
      page({ title: 'Refused', csrf: reply.request.uiSession?.csrf }, errorMain(message, back)),
      Errors[code].status
    )

  return {
    service,
    html,
    refuse,
    async guarded(reply, layout, back, read) {
      try {
        return await read()
      } catch (error) {
        if (!(error instanceof RelayHttpError)) throw error
        await html(reply, page(layout, errorMain(error.message, back)), error.status)
        return undefined
      }
    },
    async signedIn(request, reply) {
      if (request.uiSession) return
      if (request.headers['x-ui-refresh'] !== undefined)
        return refuse(reply, 'UI_SESSION', Errors.UI_SESSION.message, '/ui/login')
      return reply.code(303).header('cache-control', 'no-store').redirect('/ui/login')
    },
    async action(request, reply) {
      const form = request.body instanceof URLSearchParams ? request.body : undefined
      if (!sameOrigin(app, request))
        return refuse(reply, 'UI_CSRF', 'refused: this action did not come from the dashboard')
      if (!request.uiSession) return refuse(reply, 'UI_SESSION', Errors.UI_SESSION.message, '/ui/login')
      if (!form || !sameSecret(form.get('csrf') ?? undefined, request.uiSession.csrf))
        return refuse(
          reply,
          'UI_CSRF',
          'refused: the form is missing its token or is from an older session; reload the page'
        )
    }
  }
}
