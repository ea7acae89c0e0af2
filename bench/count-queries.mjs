// Counts the PostgreSQL statements a relay process sends, by kind, for the replica bench:
// BENCH_NODE_ARGS='--import /abs/path/bench/count-queries.mjs' BENCH_QUERY_DIR=/tmp/q npx tsx bench/replicas.ts throughput
// Each process writes <BENCH_QUERY_DIR>/<pid>.json when it exits. It patches the pg module the
// relay's own build resolves (from its entry point), so it works for any build (BENCH_DIST).
import { mkdirSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'

const dir = process.env.BENCH_QUERY_DIR
if (dir && process.argv[1]) {
  const pg = createRequire(process.argv[1])('pg')
  const kinds = {}
  const query = pg.Client.prototype.query
  pg.Client.prototype.query = function (config, ...rest) {
    const text = typeof config === 'string' ? config : config?.text
    if (typeof text === 'string') {
      // The statement's first words, with the schema name taken out: its kind.
      const kind = text
        .replace(/"[^"]*"\./g, '')
        .replace(/\s+/g, ' ')
        .trim()
        .slice(0, 60)
      kinds[kind] = (kinds[kind] ?? 0) + 1
    }
    return query.call(this, config, ...rest)
  }
  process.on('exit', () => {
    mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, `${process.pid}.json`), JSON.stringify(kinds))
  })
}
