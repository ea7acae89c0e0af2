import { readFileSync } from 'node:fs'

/**
 * What the examples' docs promise: each example file, with the environment variables it needs,
 * as listed in examples/README.md's table.
 */
export function documentedExamples(): Map<string, string[]> {
  const readme = readFileSync('examples/README.md', 'utf8')
  const examples = new Map<string, string[]>()
  for (const line of readme.split('\n')) {
    const row = /^\| `((?:examples\/)?[\w.-]+\.json)` +\|.*\| (.*) \|$/.exec(line)
    if (!row) continue
    examples.set(
      row[1]!,
      [...row[2]!.matchAll(/`([A-Z][A-Z0-9_]*)`/g)].map(m => m[1]!)
    )
  }
  return examples
}

/** The variables a config reads without a default: `${VAR}`, not `${VAR:-default}`, not `$${`. */
export function requiredVariables(file: string): string[] {
  const text = readFileSync(file, 'utf8')
  const found = [...text.matchAll(/(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map(m => m[1]!)
  return [...new Set(found)].sort()
}

/** Values shaped like the real ones, so that the plugins' own checks (xoxb-, channel ids) apply. */
export const plausible: Record<string, string> = {
  GPTBOTS_API_KEY: 'app-4f1c9d2e8b7a6c5d4e3f2a1b',
  SALES_BOT_API_KEY: 'app-9a8b7c6d5e4f3a2b1c0d9e8f',
  SLACK_BOT_TOKEN: 'xoxb-1234567890-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx',
  SLACK_CHANNEL_ID: 'C0123ABCD',
  SLACK_SIGNING_SECRET: '8f14e45fceea167a5a36dedd4bea2543',
  DISCORD_BOT_TOKEN: 'MTIzNDU2Nzg5MDEyMzQ1Njc4.GaBcDe.AbCdEfGhIjKlMnOpQrStUvWxYz0123456789ab',
  DISCORD_CHANNEL_ID: '1123456789012345678',
  DISCORD_FORUM_CHANNEL_ID: '1123456789012345679'
}

/**
 * An environment holding only PATH, HOME and `vars`: every other variable of the test runner
 * is unset (spawn leaves out undefined values), as on a fresh machine.
 */
export function onlyThese(vars: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  // PORT is the tests' own choice of a free port (startRelay sets it), not the user's.
  for (const key of Object.keys(process.env)) if (key !== 'PORT') env[key] = undefined
  return { ...env, PATH: process.env.PATH, HOME: process.env.HOME, ...vars }
}
