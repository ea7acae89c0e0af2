/*
 * Summarises a V8 .cpuprofile (from `node --cpu-prof`): the functions with the most self time,
 * self time per package or source file, and inclusive time for functions named on the command line.
 *   npx tsx bench/cpuprofile.ts FILE.cpuprofile [--top 25] [--since MS] [name ...]
 * --since skips the first MS of the profile (start-up) so a load phase can be read on its own.
 */
import { readFileSync } from 'node:fs'

interface CallFrame {
  functionName: string
  url: string
  lineNumber: number
}
interface ProfileNode {
  id: number
  callFrame: CallFrame
  children?: number[]
}
interface Profile {
  nodes: ProfileNode[]
  startTime: number
  endTime: number
  samples: number[]
  timeDeltas: number[]
}

const args = process.argv.slice(2)
const file = args.shift()
if (!file) throw new Error('usage: cpuprofile.ts FILE.cpuprofile [--top N] [--since MS] [name ...]')
let top = 25
let sinceMs = 0
const names: string[] = []
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--top') top = Number(args[++i])
  else if (args[i] === '--since') sinceMs = Number(args[++i])
  else names.push(args[i]!)
}

const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile
const byId = new Map(profile.nodes.map(n => [n.id, n]))
const parent = new Map<number, number>()
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)

// Each sample's time is the delta to the next sample.
const selfUs = new Map<number, number>()
let t = profile.startTime
let totalUs = 0
for (let i = 0; i < profile.samples.length; i++) {
  t += profile.timeDeltas[i]!
  const dt = profile.timeDeltas[i + 1] ?? 0
  if ((t - profile.startTime) / 1000 < sinceMs) continue
  selfUs.set(profile.samples[i]!, (selfUs.get(profile.samples[i]!) ?? 0) + dt)
  totalUs += dt
}

const label = (f: CallFrame) =>
  `${f.functionName || '(anonymous)'} ${shortUrl(f.url)}${f.url ? `:${f.lineNumber + 1}` : ''}`
function shortUrl(url: string): string {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\/(.*)$/.exec(url)
  if (m) return `[${m[1]}] ${m[2]}`
  return url.replace(/^file:\/\/.*?\/(dist|src|plugins)\//, '$1/').replace(/^node:/, 'node:')
}
function owner(url: string): string {
  if (url === '') return '(native / V8)'
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)
  if (m) return m[1]!
  if (url.startsWith('node:')) return 'node: core'
  return shortUrl(url)
}

const self = new Map<string, number>()
const bucket = new Map<string, number>()
for (const [id, us] of selfUs) {
  const n = byId.get(id)!
  const key = ['(idle)', '(program)', '(garbage collector)'].includes(n.callFrame.functionName)
    ? n.callFrame.functionName
    : label(n.callFrame)
  self.set(key, (self.get(key) ?? 0) + us)
  const o = n.callFrame.functionName.startsWith('(') ? n.callFrame.functionName : owner(n.callFrame.url)
  bucket.set(o, (bucket.get(o) ?? 0) + us)
}
const pct = (us: number) => `${((100 * us) / totalUs).toFixed(1).padStart(5)} %`
const ms = (us: number) => `${(us / 1000).toFixed(0).padStart(6)} ms`
const idle = self.get('(idle)') ?? 0
console.log(
  `${file}: ${ms(totalUs)} sampled${sinceMs ? ` after the first ${sinceMs} ms` : ''}, of which idle ${pct(idle)}; busy ${ms(totalUs - idle)}`
)
console.log('\nself time by function:')
for (const [k, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(us)} ${ms(us)}  ${k}`)
console.log('\nself time by package / file:')
for (const [k, us] of [...bucket].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(us)} ${ms(us)}  ${k}`)

// Inclusive time: a sample counts once for each named function on its stack.
if (names.length > 0) {
  console.log('\ninclusive time:')
  for (const name of names) {
    let us = 0
    for (const [id, s] of selfUs) {
      for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
        const f = byId.get(cur)!.callFrame
        if (f.functionName === name || label(f).includes(name)) {
          us += s
          break
        }
      }
    }
    console.log(`${pct(us)} ${ms(us)}  ${name}`)
  }
}
