import type { FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { RelayHttpError } from '../errors.js'
import { Envelope } from '../http/envelope.js'

const Figures = Type.Object({
  conversations: Type.Integer(),
  found: Type.Integer(),
  takenIn: Type.Integer(),
  alreadyThere: Type.Integer(),
  skipped: Type.Integer(),
  calls: Type.Integer()
})

export const BackfillReply = Type.Object({
  id: Type.String(),
  trigger: Type.Enum(['start', 'schedule', 'manual']),
  status: Type.Enum(['running', 'done', 'failed']),
  sources: Type.Array(Type.String()),
  conversationId: Type.Optional(Type.String()),
  since: Type.Number(),
  until: Type.Number(),
  owner: Type.String(),
  figures: Figures,
  problems: Type.Array(Type.String()),
  createdAt: Type.Number(),
  updatedAt: Type.Number(),
  finishedAt: Type.Optional(Type.Number())
})

/** A time as the API takes it: epoch milliseconds, or an ISO 8601 date. */
const Time = Type.Union([Type.Integer({ minimum: 0 }), Type.String({ minLength: 1 })])

const BackfillBody = Type.Object(
  {
    since: Time,
    until: Type.Optional(Time),
    conversationId: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    source: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$' }))
  },
  { additionalProperties: false }
)

function millis(value: number | string, field: string): number {
  if (typeof value === 'number') return value
  const parsed = Date.parse(value)
  if (Number.isNaN(parsed))
    throw new RelayHttpError(
      'REQUEST_INVALID',
      `body/${field} must be epoch milliseconds or an ISO 8601 time, not "${value}"`
    )
  return parsed
}

const errors = { '4xx': Envelope, '5xx': Envelope }
const security = [{ adminToken: [] }]

/** POST /admin/backfill starts one; GET /admin/backfill/:id says how far it got (any replica answers). */
export async function backfillRoutes(parent: FastifyInstance): Promise<void> {
  const app = parent.withTypeProvider<TypeBoxTypeProvider>()
  app.post(
    '/backfill',
    {
      schema: {
        summary:
          "Reads back from GPTBots' API what the relay never received, in a window; answers at once with the job to poll",
        tags: ['admin'],
        security,
        body: BackfillBody,
        response: { 202: BackfillReply, ...errors }
      }
    },
    async (request, reply) => {
      const { since, until, conversationId, source } = request.body
      const job = await app.backfill.start({
        since: millis(since, 'since'),
        ...(until === undefined ? {} : { until: millis(until, 'until') }),
        ...(conversationId === undefined ? {} : { conversationId }),
        ...(source === undefined ? {} : { source })
      })
      request.log.info({ backfill: job.id, sources: job.sources, conversationId }, 'backfill asked for')
      return reply.code(202).send(job)
    }
  )
  app.get(
    '/backfill/:job',
    {
      schema: {
        summary: 'One backfill: its window, status and figures',
        tags: ['admin'],
        security,
        params: Type.Object({ job: Type.String({ minLength: 1, maxLength: 64 }) }),
        response: { 200: BackfillReply, ...errors }
      }
    },
    async request => {
      const job = await app.backfill.job(request.params.job)
      if (!job) throw new RelayHttpError('NOT_FOUND', `no backfill ${request.params.job} is stored`)
      return job
    }
  )
  app.get(
    '/backfill',
    {
      schema: {
        summary: 'The newest backfills, newest first, with their figures',
        tags: ['admin'],
        security,
        response: { 200: Type.Object({ backfills: Type.Array(BackfillReply) }), ...errors }
      }
    },
    async () => ({ backfills: await app.backfill.jobs(20) })
  )
}
