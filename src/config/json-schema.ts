import { builtInRelays, loadPlugin } from '../relays/loader.js'
import { Config } from './schema.js'

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
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: 'https://github.com/gptbots-relay/gptbots-relay/config.schema.json',
    title: 'gptbots-relay config',
    ...schema
  }
}
