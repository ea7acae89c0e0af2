import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import t from 'tap'

const tapBin = resolve('node_modules/tap/dist/esm/run.mjs')
const { tap: tapConfig, scripts } = JSON.parse(readFileSync('package.json', 'utf8')) as {
  tap: Record<string, unknown>
  scripts: Record<string, string>
}

/** Runs tap, as `npm test` does, in a project holding this project's tap config and one passing test. */
function runTap(dir: string): Promise<{ code: number | null; output: string }> {
  // The outer tap's own variables would make the inner one report to it instead of running on its own.
  const env = Object.fromEntries(
    Object.entries(process.env).filter(
      ([key]) => !key.startsWith('TAP') && key !== 'NODE_OPTIONS' && !key.startsWith('_TAPJS')
    )
  )
  return new Promise(done => {
    const child = spawn(process.execPath, [tapBin], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', chunk => {
      output += chunk
    })
    child.stderr.on('data', chunk => {
      output += chunk
    })
    child.on('exit', code => done({ code, output }))
  })
}

t.test('a passing run with partial coverage prints no coverage error and exits 0', async t => {
  // Outside .tap/, whose files coverage leaves out; tap and its plugins come from this project.
  const dir = mkdtempSync(join(tmpdir(), 'tap-config-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  symlinkSync(resolve('node_modules'), join(dir, 'node_modules'))
  mkdirSync(join(dir, 'test'))
  writeFileSync(join(dir, 'half.mjs'), 'export const used = () => 1\nexport const unused = () => 2\n')
  writeFileSync(
    join(dir, 'test', 'half.test.mjs'),
    "import t from 'tap'\nimport { used } from '../half.mjs'\nt.equal(used(), 1)\n"
  )
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({ type: 'module', tap: { ...tapConfig, include: ['test/**/*.test.mjs'], typecheck: false } })
  )
  const result = await runTap(dir)
  t.equal(result.code, 0, result.output)
  t.match(result.output, /# \{ total: 1, pass: 1 \}/, result.output)
  t.match(result.output, /Statements\s*: [0-9.]+%/, 'the coverage summary is still shown')
  t.notMatch(result.output, /ERROR/, result.output)
})

t.test('every test file runs in exactly one tier: npm test, or npm run test:slow', async t => {
  // The slow tier names what npm test leaves out (`dir/**` or a file); CI runs both.
  const under = (file: string, entry: string) =>
    entry.endsWith('/**') ? file.startsWith(entry.slice(0, -2)) : file === entry || file.startsWith(`${entry}/`)
  const excluded = (tapConfig.exclude as string[]).filter(entry => !entry.startsWith('**/'))
  const slow = scripts['test:slow']!.split('&&').at(-1)!.trim().split(/\s+/).slice(1)
  t.ok(slow.length > 0, `the slow tier names its files: ${slow.join(' ')}`)
  const files = ['test', 'plugins']
    .flatMap(dir => readdirSync(dir, { recursive: true, encoding: 'utf8' }).map(name => `${dir}/${name}`))
    .filter(file => file.endsWith('.test.ts') && !/(^|\/)fixtures?\//.test(file))
  t.ok(files.length > 100, `${files.length} test files`)
  for (const file of files) {
    const inTest = !excluded.some(entry => under(file, entry))
    const inSlow = slow.some(entry => under(file, entry))
    t.ok(
      inTest !== inSlow,
      `${file}: ${inTest ? 'npm test' : ''}${inTest && inSlow ? ' and ' : ''}${inSlow ? 'test:slow' : ''}${!inTest && !inSlow ? 'no tier' : ''}`
    )
  }
  for (const entry of slow)
    t.ok(
      files.some(file => under(file, entry)),
      `${entry} holds tests`
    )
})
