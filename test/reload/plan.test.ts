import t from 'tap'
import { resolveConfig } from '../../src/config/load.js'
import type { Config } from '../../src/config/schema.js'
import { planReload } from '../../src/config/reload-plan.js'

// The pure half of a reload, on its own: two configs in, a plan out, nothing created or closed.

const config = (raw: Record<string, unknown>): Config =>
  resolveConfig({ auth: { tokens: ['token'] }, ...raw }, { configDir: '/etc/relay', env: {} }).config

const base = {
  relays: { chat: { type: 'console' }, ops: { type: 'console', stream: 'stderr' } },
  routes: [{ to: ['chat'] }]
}

interface Case {
  name: string
  to: Record<string, unknown>
  running?: string[]
  configDirChanged?: boolean
  /** Fields the plan must have; `relays` and `needsRestart` are compared whole. */
  want: Record<string, unknown>
}

const cases: Case[] = [
  {
    name: 'the same file changes nothing',
    to: base,
    want: {
      ok: true,
      relays: { create: {}, added: [], replaced: [], removed: [], kept: ['chat', 'ops'] },
      routes: false,
      auth: false,
      dispatch: false,
      logLevel: false,
      admin: false,
      atNextStart: []
    }
  },
  {
    name: 'a new relay is added, a missing one removed, a changed one replaced',
    to: {
      relays: { chat: { type: 'console', stream: 'stderr' }, pager: { type: 'console' } },
      routes: [{ to: ['chat'] }]
    },
    want: {
      ok: true,
      relays: {
        create: { chat: { type: 'console', stream: 'stderr' }, pager: { type: 'console' } },
        added: ['pager'],
        replaced: ['chat'],
        removed: ['ops'],
        kept: []
      }
    }
  },
  {
    name: 'built-in @ relays are never removed',
    to: { relays: { chat: { type: 'console' } }, routes: [{ to: ['chat'] }] },
    running: ['chat', 'ops', '@gptbots'],
    want: { relays: { create: {}, added: [], replaced: [], removed: ['ops'], kept: ['chat'] } }
  },
  {
    name: 'an unchanged entry that is not running is created again',
    to: base,
    running: ['chat'],
    want: {
      relays: {
        create: { ops: { type: 'console', stream: 'stderr' } },
        added: ['ops'],
        replaced: [],
        removed: [],
        kept: ['chat']
      }
    }
  },
  {
    name: 'a moved config folder recreates every relay',
    to: base,
    configDirChanged: true,
    want: {
      relays: {
        create: { chat: { type: 'console' }, ops: { type: 'console', stream: 'stderr' } },
        added: [],
        replaced: ['chat', 'ops'],
        removed: [],
        kept: []
      }
    }
  },
  {
    name: 'routes, auth, dispatch, log level and admin are each noticed',
    to: {
      ...base,
      routes: [{ to: ['ops'] }],
      auth: { tokens: ['another-token'] },
      dispatch: { maxAttempts: 3 },
      log: { level: 'debug' }
    },
    want: { routes: true, auth: true, dispatch: true, logLevel: true, admin: false, atNextStart: [] }
  },
  {
    name: 'start-only settings are listed for the next start',
    to: { ...base, server: { shutdownTimeoutMs: 1234 }, log: { format: 'pretty' }, retention: { deliveredHours: 1 } },
    want: { ok: true, atNextStart: ['server.shutdownTimeoutMs', 'log.format', 'retention'] }
  },
  {
    name: 'a changed port is refused',
    to: { ...base, server: { port: 1 } },
    want: { ok: false, needsRestart: ['server.port'] }
  },
  {
    name: 'a changed store and host are refused together',
    to: { ...base, store: { driver: 'sqlite', path: '/elsewhere/relay.db' }, server: { host: '127.0.0.1' } },
    want: { ok: false, needsRestart: ['store', 'server.host'] }
  }
]

const from = config(base)
for (const c of cases) {
  t.test(c.name, async t => {
    const plan = planReload({
      from,
      to: config(c.to),
      running: c.running ?? Object.keys(from.relays),
      configDirChanged: c.configDirChanged ?? false
    })
    t.match(plan, c.want)
    if ('needsRestart' in c.want) t.same(plan.ok ? undefined : plan.needsRestart, c.want.needsRestart)
    if ('relays' in c.want) t.same(plan.ok ? plan.relays : undefined, c.want.relays)
  })
}

t.test('planning touches neither config', async t => {
  const to = config({ relays: { pager: { type: 'console' } } })
  const before = structuredClone([from, to])
  planReload({ from, to, running: ['chat', 'ops'], configDirChanged: false })
  t.same([from, to], before)
})
