import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { dotPath } from '../validation/validate.js'

/** A value that is one placeholder and nothing else: the kind that may stand for a number or a boolean. */
export const wholePlaceholder = /^\$\{(?:[A-Za-z_][A-Za-z0-9_]*(?::-[^}]*)?|file:[^}]+)\}$/
const placeholder = /\$\$\{|\$\{([^}]*)\}/g

/** Where a whole-value placeholder stood in the config, and what it said. */
export interface Substitution {
  path: string[]
  placeholder: string
  /** What the placeholder gave, before any change of type. */
  value: string
}

export interface Substituted {
  value: unknown
  substitutions: Substitution[]
  /** A placeholder that could not be filled, per path: its value is left empty and its schema errors are not shown. */
  unfilled: { path: string[]; problem: string }[]
}

/**
 * Replaces `${VAR}`, `${VAR:-fallback}` and `${file:path}` in one string; `$${` stays a literal `${`.
 * Secrets therefore live in the environment or in files, never in the config itself.
 */
function interpolate(
  value: string,
  path: string[],
  env: NodeJS.ProcessEnv,
  configDir: string,
  unfilled: Substituted['unfilled']
): string {
  const where = dotPath('')(path)
  return value.replace(placeholder, (whole, inner: string | undefined) => {
    if (inner === undefined) return '${'
    if (inner.startsWith('file:')) {
      const file = resolve(configDir, inner.slice(5))
      try {
        return readFileSync(file, 'utf8').replace(/\r?\n$/, '')
      } catch (error) {
        unfilled.push({ path, problem: `${where}: cannot read secret file ${file}: ${(error as Error).message}` })
        return ''
      }
    }
    const m = /^([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?$/s.exec(inner)
    if (!m) {
      unfilled.push({
        path,
        problem: `${where}: "${whole}" is not a valid placeholder; use \${NAME}, \${NAME:-default} or \${file:path}`
      })
      return ''
    }
    const found = env[m[1]!]
    if (found !== undefined && found !== '') return found
    if (m[2] !== undefined) return m[2]
    unfilled.push({ path, problem: `${where}: environment variable ${m[1]} is not set` })
    return ''
  })
}

/**
 * Fills every placeholder of a parsed config. Every placeholder that cannot be filled is reported
 * in one run, and the schema can still be checked around them.
 */
export function substitute(raw: unknown, env: NodeJS.ProcessEnv, configDir: string): Substituted {
  const out: Substituted = { value: undefined, substitutions: [], unfilled: [] }
  const walk = (value: unknown, path: string[]): unknown => {
    if (typeof value === 'string') {
      const filled = interpolate(value, path, env, configDir, out.unfilled)
      if (wholePlaceholder.test(value)) out.substitutions.push({ path, placeholder: value, value: filled })
      return filled
    }
    if (Array.isArray(value)) return value.map((v, i) => walk(v, [...path, String(i)]))
    if (value !== null && typeof value === 'object') {
      const copy: Record<string, unknown> = {}
      for (const [k, v] of Object.entries(value)) copy[k] = k === '$schema' ? v : walk(v, [...path, k])
      return copy
    }
    return value
  }
  out.value = walk(raw, [])
  return out
}

type SchemaNode = Record<string, unknown>

/** A schema and the branches of its anyOf, oneOf and allOf: every shape a value there may take. */
function shapes(node: SchemaNode): SchemaNode[] {
  const branches = [node.anyOf, node.oneOf, node.allOf].flatMap(list => (Array.isArray(list) ? list : []))
  return [node, ...branches.flatMap(branch => shapes(branch as SchemaNode))]
}

/** The schemas that apply to the value at `path` below `schema`. */
function schemasAt(schema: SchemaNode, path: string[]): SchemaNode[] {
  let current = [schema]
  for (const key of path) {
    const next: SchemaNode[] = []
    for (const node of current.flatMap(shapes)) {
      const properties = node.properties as Record<string, SchemaNode> | undefined
      const patterns = node.patternProperties as Record<string, SchemaNode> | undefined
      if (properties?.[key]) next.push(properties[key])
      else if (patterns && Object.keys(patterns).some(p => new RegExp(p).test(key)))
        next.push(...Object.entries(patterns).flatMap(([p, s]) => (new RegExp(p).test(key) ? [s] : [])))
      else if (typeof node.additionalProperties === 'object') next.push(node.additionalProperties as SchemaNode)
      if (node.items && typeof node.items === 'object' && /^\d+$/.test(key)) next.push(node.items as SchemaNode)
    }
    current = next
  }
  return current
}

/** The JSON types a schema lets a value have. */
function typesOf(nodes: SchemaNode[]): Set<string> {
  const types = new Set<string>()
  for (const node of nodes.flatMap(shapes)) {
    if (typeof node.type === 'string') types.add(node.type)
    if (Array.isArray(node.type)) for (const t of node.type) types.add(t as string)
    if (Array.isArray(node.enum)) for (const v of node.enum) types.add(typeof v)
    if ('const' in node) types.add(typeof node.const)
  }
  return types
}

/**
 * A placeholder always gives a string; where the schema wants a number, an integer or a boolean,
 * the string is turned into one. Mutates `value`, and returns a problem for each that cannot be,
 * naming the path and the placeholder, so that `"port": "${PORT}"` works and `PORT=http` says why not.
 */
export function coerceSubstitutions(
  schema: unknown,
  value: unknown,
  substitutions: readonly Substitution[],
  where: (path: string[]) => string
): { problems: string[]; paths: string[] } {
  const problems: string[] = []
  const paths: string[] = []
  for (const { path, placeholder: text } of substitutions) {
    const parent = path.slice(0, -1).reduce<unknown>((node, key) => (node as Record<string, unknown>)?.[key], value)
    const key = path[path.length - 1]
    if (parent === null || typeof parent !== 'object' || key === undefined) continue
    const current = (parent as Record<string, unknown>)[key]
    if (typeof current !== 'string') continue
    const types = typesOf(schemasAt(schema as SchemaNode, path))
    if (types.size === 0 || types.has('string')) continue
    const trimmed = current.trim()
    let coerced: unknown
    let wanted: string
    if (types.has('integer') || types.has('number')) {
      wanted = types.has('number') ? 'a number' : 'an integer'
      const n = trimmed === '' ? Number.NaN : Number(trimmed)
      if (Number.isFinite(n) && (types.has('number') || Number.isInteger(n))) coerced = n
    } else if (types.has('boolean')) {
      wanted = 'true or false'
      if (/^(true|false)$/i.test(trimmed)) coerced = trimmed.toLowerCase() === 'true'
    } else continue
    if (coerced !== undefined) {
      ;(parent as Record<string, unknown>)[key] = coerced
      continue
    }
    problems.push(`${where(path)}: ${text} is ${JSON.stringify(current)}, which is not ${wanted}`)
    paths.push(where(path))
  }
  return { problems, paths }
}

/** Whether a schema problem is about one of these paths (or something under them). */
export function isAbout(problem: string, paths: readonly string[]): boolean {
  return paths.some(
    p => problem === p || problem.startsWith(`${p} `) || problem.startsWith(`${p}:`) || problem.startsWith(`${p}.`)
  )
}

const relaySubstitutions = new WeakMap<object, Substitution[]>()

/** Remembers the placeholders of a relay's entry, for its plugin's options check, which comes later. */
export function rememberSubstitutions(entry: object, substitutions: Substitution[]): void {
  relaySubstitutions.set(entry, substitutions)
}

/** The placeholders of a relay entry, with paths inside the entry. */
export function substitutionsOf(entry: object): Substitution[] {
  return relaySubstitutions.get(entry) ?? []
}
