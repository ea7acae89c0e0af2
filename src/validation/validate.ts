import type { TSchema, Static } from 'typebox'
import { Compile } from 'typebox/compile'
import { Settings } from 'typebox/system'
import Value from 'typebox/value'
import { choices, nearest } from './suggest.js'

// TypeBox gathers 8 errors by default; a union field alone can take three, so a body with several
// wrong fields would be explained only in part.
Settings.Set({ maxErrors: 64 })

interface SchemaError {
  keyword: string
  instancePath: string
  /** `#/properties/store/anyOf/1`: where in the schema it failed. */
  schemaPath?: string
  params: Record<string, unknown>
  message: string
}

type SchemaNode = Record<string, unknown>

export type PathStyle = (segments: string[]) => string

/** `body/flow_output/0/content`, as HTTP clients see it. */
export const slashPath =
  (root: string): PathStyle =>
  segments =>
    [root, ...segments].join('/')
/** `relays.slack.channel`, as a config file reads. */
export const dotPath =
  (root: string): PathStyle =>
  segments =>
    [root, ...segments].filter(s => s !== '').join('.') || '(the config)'

const typeNames: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  integer: 'an integer',
  boolean: 'a boolean (true or false)',
  object: 'an object',
  array: 'an array',
  null: 'null'
}

function segmentsOf(pointer: string): string[] {
  if (pointer === '') return []
  return pointer
    .slice(1)
    .split('/')
    .map(s => s.replace(/~1/g, '/').replace(/~0/g, '~'))
}

/** Turns one path's schema errors into one sentence a person can act on. */
function describe(errors: SchemaError[], schemaOf: (error: SchemaError) => SchemaNode | undefined): string {
  const union = errors.find(e => e.keyword === 'anyOf')
  if (union) {
    const types = errors
      .filter(e => e.keyword === 'type')
      .map(e => typeNames[String(e.params.type)] ?? String(e.params.type))
    const constants = errors.filter(e => e.keyword === 'const').map(e => e.params.allowedValue)
    if (types.length === 0 && constants.length > 0) return `must be ${choices(constants)}`
    // A union of types fails as a whole; if a branch of the right type failed deeper, say that instead.
    const other = errors.find(e => e.keyword !== 'type' && e.keyword !== 'anyOf')
    if (other) return describe([other], schemaOf)
    return types.length > 0 ? `must be ${[...new Set(types)].join(' or ')}` : 'is not one of the forms this field takes'
  }
  const e = errors[0]!
  switch (e.keyword) {
    case 'type':
      return `must be ${typeNames[String(e.params.type)] ?? e.params.type}`
    case 'enum':
      return `must be one of ${(e.params.allowedValues as unknown[]).map(v => JSON.stringify(v)).join(', ')}`
    case 'const':
      return `must be ${JSON.stringify(e.params.allowedValue)}`
    case 'minLength':
      return e.params.limit === 1 ? 'must not be empty' : `must be at least ${e.params.limit} characters`
    case 'maxLength':
      return `must be at most ${e.params.limit} characters`
    case 'minimum':
      return `must be at least ${e.params.limit}`
    case 'maximum':
      return `must be at most ${e.params.limit}`
    case 'minItems':
      return `must have at least ${e.params.limit} item(s)`
    case 'maxItems':
      return `must have at most ${e.params.limit} items`
    case 'pattern': {
      // A schema says in words what its pattern means (as editors read it too); the regex is the last resort.
      const said = schemaOf(e)?.patternErrorMessage
      if (typeof said === 'string') return said
      return e.params.pattern === '^[^\\u0000]*$'
        ? 'must not contain NUL (\\u0000) characters'
        : `must match the pattern ${e.params.pattern}`
    }
    case 'additionalProperties':
      return 'is not a known field'
    default:
      return e.message
  }
}

/** The schema node a JSON pointer such as `#/properties/store/anyOf/0` names, if it can be followed. */
function schemaAt(root: unknown, pointer: string | undefined): SchemaNode | undefined {
  if (pointer === undefined || !pointer.startsWith('#')) return undefined
  let node = root
  for (const segment of segmentsOf(pointer.slice(1))) {
    if (node === null || typeof node !== 'object') return undefined
    node = (node as SchemaNode)[segment]
  }
  return node !== null && typeof node === 'object' ? (node as SchemaNode) : undefined
}

function valueAt(root: unknown, pointer: string): unknown {
  let value = root
  for (const segment of segmentsOf(pointer)) {
    if (value === null || typeof value !== 'object') return undefined
    value = (value as Record<string, unknown>)[segment]
  }
  return value
}

/** `is not a known field`, with the field it most likely meant, or the fields there are. */
function unknownField(name: string, object: SchemaNode | undefined): string {
  const known = Object.keys((object?.properties as SchemaNode | undefined) ?? {})
  if (known.length === 0) return 'is not a known field'
  const meant = nearest(name, known)
  if (meant !== undefined) return `is not a known field: did you mean "${meant}"?`
  return `is not a known field (known: ${known.join(', ')})`
}

/**
 * Human sentences for what is wrong with a value, one per offending field, most useful first:
 * `body/conversation_id is required`, `body/message_type must be one of "ANSWER", "QUESTION"`.
 * With the schema the errors came from, patterns are explained in the schema's words and an
 * unknown field is matched to the field it most likely meant.
 */
export function explain(errors: Iterable<SchemaError>, path: PathStyle, max = 12, schema?: unknown): string[] {
  const schemaOf = (error: SchemaError) => schemaAt(schema, error.schemaPath)
  const byPath = new Map<string, SchemaError[]>()
  const out: string[] = []
  for (const error of errors) {
    if (error.keyword === 'required') {
      for (const name of error.params.requiredProperties as string[]) {
        out.push(`${path([...segmentsOf(error.instancePath), name])} is required`)
      }
      continue
    }
    if (error.keyword === 'additionalProperties') {
      const names = error.params.additionalProperties
      for (const name of Array.isArray(names) ? names : [names])
        out.push(
          `${path([...segmentsOf(error.instancePath), String(name)])} ${unknownField(String(name), schemaOf(error))}`
        )
      continue
    }
    // The same unknown field again, as the `false` schema it failed.
    if (error.keyword === 'boolean') continue
    const list = byPath.get(error.instancePath) ?? []
    list.push(error)
    byPath.set(error.instancePath, list)
  }
  for (const [pointer, list] of byPath) {
    // A union (text: string | null) that failed because a branch of the right type failed deeper
    // is explained by that deeper error alone.
    const deeper =
      [...byPath.keys()].some(other => other.startsWith(pointer + '/')) ||
      out.some(line => line.startsWith(path(segmentsOf(pointer)) + '/'))
    if (deeper && list.some(e => e.keyword === 'anyOf')) continue
    out.push(`${path(segmentsOf(pointer))} ${describe(list, schemaOf)}`)
  }
  return [...new Set(out)].slice(0, max)
}

/** What a union's branch takes at its top: the JSON type, or the constants it allows. */
function admits(branch: SchemaNode, value: unknown): boolean {
  if ('const' in branch) return typeof branch.const === typeof value
  if (Array.isArray(branch.enum)) return branch.enum.some(v => typeof v === typeof value)
  switch (branch.type) {
    case undefined:
      return true
    case 'object':
      return value !== null && typeof value === 'object' && !Array.isArray(value)
    case 'array':
      return Array.isArray(value)
    case 'integer':
      return typeof value === 'number'
    case 'null':
      return value === null
    default:
      return typeof value === branch.type
  }
}

const isConstant = (node: SchemaNode) => 'const' in node

/** Why a union failed, told as the branch the user meant: a problem of its own, or that branch's schema. */
type Choice = { branch: SchemaNode } | { at: string[]; problem: string } | undefined

/**
 * Picks the branch of a union the value was meant for. Objects are told apart by a property every
 * branch fixes to a constant (`store.driver`): the value's own, or, when it is left out, the branch
 * whose constant is the default or the only one with all the value's fields.
 */
function chooseBranch(union: SchemaNode, value: unknown): Choice {
  const branches = (union.anyOf as SchemaNode[] | undefined) ?? []
  if (branches.length > 0 && branches.every(isConstant))
    return { at: [], problem: `must be ${choices(branches.map(b => b.const))}` }
  const fits = branches.filter(b => admits(b, value))
  if (fits.length === 1) return { branch: fits[0]! }
  if (fits.length === 0 || !fits.every(b => b.type === 'object')) return undefined
  const record = value as Record<string, unknown>
  const properties = (b: SchemaNode) => (b.properties as Record<string, SchemaNode> | undefined) ?? {}
  const key = Object.keys(properties(fits[0]!)).find(k =>
    fits.every(b => properties(b)[k] && isConstant(properties(b)[k]!))
  )
  if (key === undefined) return undefined
  const constants = fits.map(b => properties(b)[key]!.const)
  if (record[key] !== undefined) {
    const chosen = fits.find(b => properties(b)[key]!.const === record[key])
    if (chosen) return { branch: chosen }
    const meant = typeof record[key] === 'string' ? nearest(record[key], constants.map(String)) : undefined
    return {
      at: [key],
      problem: `must be ${choices(constants)}${meant === undefined ? '' : `: did you mean "${meant}"?`}`
    }
  }
  const fields = Object.keys(record)
  const holding = fits.filter(b => fields.every(f => f in properties(b)))
  const byDefault = fits.find(b => properties(b)[key]!.default !== undefined)
  if (holding.length === 1 && holding[0] !== byDefault)
    return {
      at: [key],
      problem: `is required with ${fields.join(' and ')}: set it to ${JSON.stringify(properties(holding[0]!)[key]!.const)}`
    }
  if (byDefault) return { branch: byDefault }
  return { at: [key], problem: `is required: ${choices(constants)}` }
}

/**
 * Explains a value's errors against its schema. A failed union is explained as the branch the value
 * was meant for, with that branch's defaults filled in, instead of every branch's complaints at once.
 */
function problemsOf(schema: unknown, value: unknown, errors: SchemaError[], path: PathStyle, max: number): string[] {
  const consumed = new Set<SchemaError>()
  const told: string[] = []
  const unions = errors
    .filter(e => e.keyword === 'anyOf' && e.schemaPath !== undefined)
    .sort((a, b) => a.schemaPath!.length - b.schemaPath!.length)
  for (const union of unions) {
    if (consumed.has(union)) continue
    const node = schemaAt(schema, union.schemaPath)
    const inside = `${union.schemaPath}/anyOf/`
    const here = value === undefined ? undefined : valueAt(value, union.instancePath)
    const choice = node && chooseBranch(node, here)
    if (!choice) continue
    consumed.add(union)
    for (const e of errors) if (e.schemaPath?.startsWith(inside)) consumed.add(e)
    const at = segmentsOf(union.instancePath)
    if ('problem' in choice) {
      told.push(`${path([...at, ...choice.at])} ${choice.problem}`)
      continue
    }
    const filled = Value.Default(choice.branch as TSchema, Value.Clone(here))
    const branchErrors = [...Value.Errors(choice.branch as TSchema, filled)] as SchemaError[]
    told.push(...problemsOf(choice.branch, filled, branchErrors, segments => path([...at, ...segments]), max))
  }
  const rest = explain(
    errors.filter(e => !consumed.has(e)),
    path,
    max,
    schema
  )
  return [...new Set([...rest, ...told])].slice(0, max)
}

export interface Checker<S extends TSchema> {
  schema: S
  check(value: unknown): value is Static<S>
  /** Empty when the value is valid. */
  problems(value: unknown, path: PathStyle): string[]
}

/** Compiles a TypeBox schema once into a checker that explains itself. */
export function checker<S extends TSchema>(schema: S): Checker<S> {
  const compiled = Compile(schema)
  return {
    schema,
    check: (value: unknown): value is Static<S> => compiled.Check(value),
    problems: (value, path) => {
      if (compiled.Check(value)) return []
      // Explaining an error copies the wrong value; one nested thousands deep would overflow the stack.
      const shown = prunedBelow(value, explainedDepth)
      return problemsOf(schema, shown, compiled.Errors(shown) as SchemaError[], path, 12)
    }
  }
}

/** Far deeper than any schema the relay checks, so that pruning below it changes no error. */
const explainedDepth = 64

/**
 * A copy of `value` whose objects and arrays deeper than `depth` levels are left empty: what a
 * schema can say of a value lies in its top levels, and the copy can be walked recursively.
 */
export function prunedBelow(value: unknown, depth: number): unknown {
  if (value === null || typeof value !== 'object') return value
  if (depth <= 0) return Array.isArray(value) ? [] : {}
  if (Array.isArray(value)) return value.map(item => prunedBelow(item, depth - 1))
  const copy: Record<string, unknown> = {}
  for (const [key, item] of Object.entries(value)) copy[key] = prunedBelow(item, depth - 1)
  return copy
}
