import { resolve } from 'node:path'
import { ConfigError } from '../errors.js'
import { SqliteStore } from './sqlite.js'
import type { Store } from './types.js'

export type { Store } from './types.js'

/** Where the store lives: the shape of the config's `store` block, owned here so the store needs no config module. */
export type StoreOptions =
  | { driver: 'sqlite'; path: string; synchronous: 'FULL' | 'NORMAL' }
  | { driver: 'postgres'; url: string; schema: string }

/** Opens the store the options name. */
export async function openStore(config: StoreOptions): Promise<Store> {
  if (config.driver === 'sqlite') {
    try {
      return new SqliteStore({
        path: config.path === ':memory:' ? ':memory:' : resolve(config.path),
        synchronous: config.synchronous
      })
    } catch (error) {
      const busy = (error as { code?: string }).code === 'SQLITE_BUSY'
      const hint = busy
        ? ' (another relay process has it open: one SQLite file serves one process; use PostgreSQL for several)'
        : ''
      throw new ConfigError(`store.path: cannot open ${config.path}: ${(error as Error).message}${hint}`, {
        cause: error
      })
    }
  }
  // Unreachable servers, bad credentials and schema trouble surface as errors naming the server:
  // they are not always a config mistake, and the relay must not start without its store.
  // Imported only here: pg and its dependencies cost a SQLite relay tens of ms at every start.
  const { openPostgresStore } = await import('./postgres.js')
  return openPostgresStore({ url: config.url, schema: config.schema })
}
