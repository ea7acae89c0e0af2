import { readFileSync } from 'node:fs'
import swagger from '@fastify/swagger'
import type { FastifyInstance } from 'fastify'

/**
 * What the document says of a route beyond its Fastify schema: the intake checks its body itself
 * (so that it can explain GPTBots' two formats in one sentence), so it describes that body here.
 */
export interface RouteDoc {
  body?: unknown
  params?: unknown
  security?: Record<string, string[]>[]
  summary?: string
  tags?: string[]
}

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
export async function useOpenApi(app: FastifyInstance, routeDocs: Record<string, RouteDoc> = {}): Promise<void> {
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
      const doc = routeDocs[url]
      if (doc) Object.assign(described, doc)
      else if (url === '/healthz' || url === '/readyz' || url === '/metrics') {
        described.tags = ['operations']
      }
      return { schema: described, url }
    }
  })
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())
}
