import type { FastifyInstance } from 'fastify'
import { sameOrigin, secure, type UiContext } from './context.js'
import { loginPage } from './layout.js'
import { sameSecret, Sessions } from './sessions.js'

export const SESSION_COOKIE = 'gptbots_relay_ui'
const LOGIN_COOKIE = 'gptbots_relay_login'

/** GET and POST /ui/login, POST /ui/logout: the admin token is taken once, for a session cookie. */
export function signInPages(app: FastifyInstance, ui: UiContext, sessions: Sessions): void {
  app.get('/login', async (request, reply) => {
    if (request.uiSession) return reply.code(303).redirect('/ui')
    const nonce = Sessions.nonce()
    reply.setCookie(LOGIN_COOKIE, nonce, {
      path: '/ui/login',
      httpOnly: true,
      sameSite: 'strict',
      secure: secure(app, request),
      maxAge: 3600
    })
    return ui.html(reply, loginPage({ nonce }))
  })

  app.post('/login', async (request, reply) => {
    const form = request.body instanceof URLSearchParams ? request.body : new URLSearchParams()
    if (!sameOrigin(app, request) || !sameSecret(form.get('nonce') ?? undefined, request.cookies[LOGIN_COOKIE] ?? '')) {
      return ui.refuse(reply, 'UI_CSRF', 'refused: sign in from the dashboard’s own sign-in page', '/ui/login')
    }
    const current = app.relay.config.admin.token!
    if (!sameSecret(form.get('token') ?? undefined, current)) {
      request.log.info({ errorCode: 'ADMIN_AUTH' }, 'dashboard sign-in refused')
      const nonce = form.get('nonce')!
      return ui.html(
        reply.header('x-relay-error', 'ADMIN_AUTH'),
        loginPage({ nonce, error: 'That is not the admin token.' }),
        401
      )
    }
    if (request.uiSession) await sessions.end(request.uiSession)
    const session = sessions.open(current)
    request.log.info('dashboard: signed in')
    reply.clearCookie(LOGIN_COOKIE, { path: '/ui/login' })
    reply.setCookie(SESSION_COOKIE, session.cookie, {
      path: '/ui',
      httpOnly: true,
      sameSite: 'strict',
      secure: secure(app, request),
      maxAge: Math.floor((session.expiresAt - session.createdAt) / 1000)
    })
    return reply.code(303).redirect('/ui')
  })

  app.post('/logout', { preHandler: ui.action }, async (request, reply) => {
    await sessions.end(request.uiSession!)
    request.log.info('dashboard: signed out')
    reply.clearCookie(SESSION_COOKIE, { path: '/ui' })
    return reply.code(303).redirect('/ui/login')
  })
}
