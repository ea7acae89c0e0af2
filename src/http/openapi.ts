import { readFileSync } from 'node:fs'
import swagger from '@fastify/swagger'
import type { FastifyInstance } from 'fastify'
import Type from 'typebox'
import { WebhookV1, WebhookV2 } from '../intake/schemas.js'

/**
 * The intake checks its body itself (so that it can explain GPTBots' two formats in one sentence),
 * so the document is told what that body is here rather than by a Fastify body schema.
 */
const webhookBody = Type.Union([WebhookV1, WebhookV2], {
  description: 'A GPTBots webhook callback: V1 (message_type, flow_output) or V2 (output). Unknown fields are allowed.'
})
const webhookParams = Type.Object({ source: Type.String({ description: 'A source from auth.sources.' }) })
const webhookSecurity = [{ webhookBearer: [] }, { webhookBasic: [] }]

/** The package's version, from src/ when run with tsx and from dist/src/ when built. */
function packageVersion(): string {
  for (const path of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(path, import.meta.url), 'utf8')) as {
        name?: string
        version?: string
      }
      if (pkg.name === 'gptbots-relay' && pkg.version) return pkg.version
    } catch {
      /* not at this level */
    }
  }
  return '0.0.0'
}

/**
 * Describes every route in an OpenAPI 3.1 document served at GET /openapi.json. Must be used before
 * routes are added: the document collects them as they are registered.
 */
export async function useOpenApi(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'gptbots-relay',
        version: packageVersion(),
        description:
          'Receives GPTBots webhook callbacks and relays them, in order and without loss, to Slack, Discord and custom relays. Errors are GPTBots\' envelope {"code": <status>, "msg": "..."} with the x-relay-error header.'
      },
      components: {
        securitySchemes: {
          webhookBearer: {
            type: 'http',
            scheme: 'bearer',
            description: 'A token of the source (auth.tokens or auth.sources.<name>.tokens).'
          },
          webhookBasic: {
            type: 'http',
            scheme: 'basic',
            description: 'The same token as GPTBots sends it: Basic <token>, or Basic base64(user:token).'
          },
          adminToken: {
            type: 'http',
            scheme: 'bearer',
            description: 'admin.token from the config. Webhook tokens do not open /admin.'
          }
        }
      },
      tags: [
        { name: 'webhook', description: 'What GPTBots calls' },
        { name: 'admin', description: 'Conversations, dead letters, replay, reload; enabled by admin.token' },
        { name: 'operations', description: 'Probes and metrics' }
      ]
    },
    transform: ({ schema, url }) => {
      const described = { ...schema } as Record<string, unknown>
      if (url === '/webhook' || url === '/webhook/:source') {
        Object.assign(described, {
          body: webhookBody,
          tags: ['webhook'],
          security: webhookSecurity,
          summary: 'Accepts a GPTBots callback: stored before it is acknowledged'
        })
        if (url === '/webhook/:source') described.params = webhookParams
      } else if (url === '/healthz' || url === '/readyz' || url === '/metrics') {
        described.tags = ['operations']
      }
      return { schema: described, url }
    }
  })
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())
}
