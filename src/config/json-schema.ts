import { builtInRelays, loadPlugin } from '../relays/loader.js'
import { Config } from './schema.js'

/** A string holding a placeholder the loader fills (`${VAR}`, `${VAR:-default}`, `${file:path}`). */
const containsPlaceholder = '\\$\\{(?:[A-Za-z_][A-Za-z0-9_]*(?::-[^}]*)?|file:[^}]+)\\}'
/** A value that is only a placeholder, which the loader turns into the number or boolean wanted there. */
const onlyPlaceholder = `^${containsPlaceholder}$`
/** What an editor shows about a field: kept beside the anyOf, not inside one of its branches. */
const annotations = ['title', 'description', 'default', 'examples']

type Node = Record<string, unknown>

/** In a file, a field with a default may be left out: only fields without one stay required. */
function relaxDefaults(node: unknown): void {
  if (Array.isArray(node)) {
    for (const item of node) relaxDefaults(item)
    return
  }
  if (node === null || typeof node !== 'object') return
  const n = node as Node
  const properties = n.properties as Record<string, Node> | undefined
  if (Array.isArray(n.required) && properties) {
    n.required = (n.required as string[]).filter(name => properties[name]?.default === undefined)
    if ((n.required as string[]).length === 0) delete n.required
  }
  Object.values(n).forEach(relaxDefaults)
}

/**
 * The loader fills `${VAR}` in every string of the config before it checks it, so the file an
 * editor sees may hold a placeholder wherever a constrained string, a number or a boolean goes:
 * each such schema becomes "this, or a placeholder", and literal values are checked as before.
 */
function acceptPlaceholders(node: unknown): void {
  if (Array.isArray(node)) {
    for (const item of node) acceptPlaceholders(item)
    return
  }
  if (node === null || typeof node !== 'object') return
  const n = node as Node
  for (const [key, value] of Object.entries(n)) {
    // The condition of an if/then picks a relay type by its literal name: never a placeholder.
    if (key === 'if') continue
    if (key === 'properties' || key === 'patternProperties')
      for (const child of Object.values(value as Node)) acceptPlaceholders(child)
    else acceptPlaceholders(value)
  }
  const scalar = n.type === 'integer' || n.type === 'number' || n.type === 'boolean'
  const constrained =
    (n.type === 'string' || Array.isArray(n.enum)) &&
    ['pattern', 'enum', 'format', 'minLength', 'maxLength'].some(k => k in n)
  if (!scalar && !constrained) return
  const literal: Node = {}
  for (const [key, value] of Object.entries(n)) {
    if (annotations.includes(key)) continue
    literal[key] = value
    delete n[key]
  }
  n.anyOf = [literal, { type: 'string', pattern: scalar ? onlyPlaceholder : containsPlaceholder }]
}

/**
 * The config's JSON Schema for editors: the TypeBox schema itself, with each built-in relay's
 * options attached to entries of its type, so that an editor completes and checks them too.
 */
export async function configJsonSchema(): Promise<Record<string, unknown>> {
  const relayRules = []
  for (const type of builtInRelays) {
    const plugin = await loadPlugin(type, process.cwd())
    const options = JSON.parse(JSON.stringify(plugin.options)) as {
      properties?: Record<string, unknown>
      required?: string[]
    }
    relayRules.push({
      if: { properties: { type: { const: type } }, required: ['type'] },
      // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then, not a thenable
      then: { ...options, properties: { type: { const: type }, ...options.properties } }
    })
  }
  const schema = JSON.parse(JSON.stringify(Config)) as {
    properties: Record<string, { additionalProperties?: unknown; patternProperties?: Record<string, unknown> }>
  }
  const relays = schema.properties.relays!
  const entry = relays.patternProperties
    ? (Object.values(relays.patternProperties)[0] as Record<string, unknown>)
    : (relays.additionalProperties as Record<string, unknown>)
  entry.allOf = relayRules
  relaxDefaults(schema)
  acceptPlaceholders(schema)
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: 'https://github.com/gptbots-relay/gptbots-relay/config.schema.json',
    title: 'gptbots-relay config',
    ...schema
  }
}
