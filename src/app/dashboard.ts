import type { FastifyInstance } from 'fastify'
import { adminRoutes } from '../admin/routes.js'
import type { Readiness } from '../ops/readiness.js'
import { type UiOptions, uiRoutes } from '../ui/routes.js'

export interface DashboardPluginOptions {
  readiness: () => Promise<Readiness>
  /** Dashboard timings and limits (tests). */
  ui?: Omit<UiOptions, 'clock' | 'registry' | 'readiness'>
}

/** The admin API under /admin and the delivery dashboard under /ui, in a context of their own. */
export async function dashboardPlugin(app: FastifyInstance, options: DashboardPluginOptions): Promise<void> {
  const { clock } = app.relayContext
  await app.register(adminRoutes, { prefix: '/admin', clock })
  await app.register(uiRoutes, {
    prefix: '/ui',
    clock,
    registry: app.metrics?.registry,
    readiness: options.readiness,
    ...options.ui
  })
}
