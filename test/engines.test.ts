import { readFileSync } from 'node:fs'
import semver from 'semver'
import t from 'tap'

const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { engines: { node: string } }
const lock = JSON.parse(readFileSync('package-lock.json', 'utf8')) as {
  packages: Record<string, { engines?: { node?: string } | string[]; dev?: boolean }>
}

t.test(
  'every installed package runs on Node 20, as the relay promises (npm ci warns EBADENGINE otherwise)',
  async t => {
    t.ok(semver.intersects(pkg.engines.node, '20.x'), 'the relay itself says Node 20')
    // Many packages want a recent Node 20 minor; what must not happen is one that no Node 20 can run.
    const refusing = Object.entries(lock.packages)
      .filter(([path, entry]) => path !== '' && entry.engines && !Array.isArray(entry.engines) && entry.engines.node)
      .map(([path, entry]) => [path, (entry.engines as { node: string }).node] as const)
      .filter(([, range]) => semver.validRange(range) !== null && !semver.intersects(range, '20.x'))
      .map(([path, range]) => `${path} wants node ${range}`)
    t.same(refusing, [])
  }
)
