import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Test } from 'tap'
import { seedExample } from '../../src/intake/seed.js'
import { type RelayProcess, startRelay } from '../helpers/process.js'
import { onlyThese } from './env.js'

/**
 * Starts an example config as the user would (copied to config.json, `gptbots-relay start` in
 * that directory, only its variables set), with each relay of `type` pointed at a fake's API.
 */
export async function startExample(
  t: Test,
  file: string,
  env: Record<string, string>,
  apiUrls: Record<string, string>
): Promise<RelayProcess> {
  const config = JSON.parse(readFileSync(file, 'utf8'))
  delete config.$schema
  for (const entry of Object.values(config.relays) as { type: string; apiUrl?: string }[]) {
    if (apiUrls[entry.type]) entry.apiUrl = apiUrls[entry.type]
  }
  const dir = t.testdir({})
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config, null, 2))
  return startRelay(t, ['start'], { cwd: dir, env: onlyThese(env) })
}

/** Posts GPTBots' own example, as the README's curl does, to a source of the relay. */
export async function postExample(relay: RelayProcess, key: string, source?: string): Promise<unknown> {
  const response = await fetch(`${relay.url}/webhook${source ? `/${source}` : ''}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify(seedExample('65a4ccfC7ce58e728d5897e0'))
  })
  return response.json()
}

/**
 * The fenced JSON block that follows `<!-- relayed: NAME -->` in a doc: what the docs show the
 * platform receiving, held to what the fake did receive.
 */
export function documentedPayload(doc: string, name: string): unknown {
  const text = readFileSync(doc, 'utf8')
  const at = text.indexOf(`<!-- relayed: ${name} -->`)
  if (at === -1) throw new Error(`${doc} has no <!-- relayed: ${name} --> block`)
  const block = /```json\n([\s\S]*?)\n```/.exec(text.slice(at))
  if (!block) throw new Error(`${doc}: no json block after <!-- relayed: ${name} -->`)
  return JSON.parse(block[1]!)
}
