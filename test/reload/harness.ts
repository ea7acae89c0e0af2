import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { pino } from 'pino'
import type { Test } from 'tap'
import { buildApp } from '../../src/app.js'
import { loadConfigFile } from '../../src/config/load.js'
import type { RelayMessage } from '../../src/message.js'
import type { DeliveryContext, DeliveryOutcome } from '../../src/relays/types.js'
import { FakeRelay } from '../helpers/fake-relay.js'
import { TOKEN } from '../helpers/app.js'

/** A fake relay that can be closed, and that reports each delivery to its app's shared log. */
export class ReloadableFake extends FakeRelay {
  closed = false
  constructor(
    readonly name: string,
    readonly entry: Record<string, unknown>,
    private readonly log: ReloadHarness['log'],
    private readonly busy: Set<string>,
    private readonly overlaps: string[]
  ) {
    super()
  }

  override async deliver(message: RelayMessage, context: DeliveryContext): Promise<DeliveryOutcome> {
    const lane = `${this.name}/${message.conversationId}`
    if (this.closed) this.overlaps.push(`${lane} (on a closed instance)`)
    if (this.busy.has(lane)) this.overlaps.push(lane)
    this.busy.add(lane)
    try {
      const outcome = await super.deliver(message, context)
      if (outcome.status === 'delivered')
        this.log.push({
          relay: this.name,
          instance: this,
          conversationId: message.conversationId,
          messageId: message.messageId
        })
      return outcome
    } finally {
      this.busy.delete(lane)
    }
  }

  async close(): Promise<void> {
    this.closed = true
  }
}

export interface ReloadHarness {
  app: FastifyInstance
  file: string
  /** Every instance created, oldest first. */
  instances: ReloadableFake[]
  /** Every delivery, across instances, in the order they completed. */
  log: { relay: string; instance: ReloadableFake; conversationId: string; messageId: string }[]
  /** Lanes that had two deliveries running at once, or a delivery on a closed instance (should stay empty). */
  overlaps: string[]
  /** The newest instance of a relay. */
  relay(name: string): ReloadableFake
  /** Message ids delivered to a relay (any instance) for a conversation, in order. */
  idsOf(relay: string, conversationId: string): string[]
  /** Writes the config file: the given sections over a base with a token and the test's own SQLite file. */
  write(config: Record<string, unknown>): void
  /** When set, creating relays fails after the first one with this error, as a plugin whose create() throws. */
  failCreate?: string
}

/**
 * The real app, built from a config file that a test rewrites before reloading. Relays are fakes
 * created from their config entries (any valid `console` entry), a new instance per creation.
 */
export async function reloadable(
  t: Test,
  config: Record<string, unknown>,
  options: { dispatch?: 'manual' | 'background' } = {}
): Promise<ReloadHarness> {
  const dir = t.testdir({})
  const file = join(dir, 'relay.json')
  const base = {
    auth: { tokens: [TOKEN] },
    store: { driver: 'sqlite', path: join(dir, 'relay.db') },
    log: { level: 'silent' }
  }
  const write = (sections: Record<string, unknown>) =>
    writeFileSync(file, JSON.stringify({ ...base, ...sections }, null, 2))
  write(config)
  const instances: ReloadableFake[] = []
  const log: ReloadHarness['log'] = []
  const busy = new Set<string>()
  const overlaps: string[] = []
  const harness = { failCreate: undefined as string | undefined }
  const app = await buildApp({
    loaded: loadConfigFile(file),
    logger: pino({ level: 'silent' }),
    dispatch: options.dispatch ?? 'manual',
    createRelays: async entries => {
      const created = new Map<string, ReloadableFake>()
      for (const [name, entry] of Object.entries(entries)) {
        if (harness.failCreate !== undefined && created.size > 0) {
          for (const relay of created.values()) await relay.close()
          throw new Error(`relays.${name}: could not start: ${harness.failCreate}`)
        }
        const relay = new ReloadableFake(name, entry, log, busy, overlaps)
        instances.push(relay)
        created.set(name, relay)
      }
      return created
    }
  })
  t.teardown(() => app.close())
  const relay = (name: string) => {
    const found = instances.filter(r => r.name === name).at(-1)
    if (!found) throw new Error(`no relay "${name}" was created`)
    return found
  }
  const idsOf = (name: string, conversationId: string) =>
    log.filter(d => d.relay === name && d.conversationId === conversationId).map(d => d.messageId)
  return Object.assign(harness, { app, file, instances, log, overlaps, relay, idsOf, write })
}

/** A promise that a test resolves by hand, to hold a delivery in flight. */
export function gate(): { opened: Promise<void>; open(): void } {
  let open!: () => void
  const opened = new Promise<void>(resolve => {
    open = resolve
  })
  return { opened, open }
}
