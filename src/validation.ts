import type { TSchema, Static } from 'typebox'
import { Compile } from 'typebox/compile'
import { Settings } from 'typebox/system'

// TypeBox gathers 8 errors by default; a union field alone can take three, so a body with several
// wrong fields would be explained only in part.
Settings.Set({ maxErrors: 64 })

interface SchemaError {
  keyword: string
  instancePath: string
  params: Record<string, unknown>
  message: string
}

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
function describe(errors: SchemaError[]): string {
  const union = errors.find(e => e.keyword === 'anyOf')
  if (union) {
    const types = errors
      .filter(e => e.keyword === 'type')
      .map(e => typeNames[String(e.params.type)] ?? String(e.params.type))
    // A union of types fails as a whole; if a branch of the right type failed deeper, say that instead.
    const other = errors.find(e => e.keyword !== 'type' && e.keyword !== 'anyOf')
    if (other) return describe([other])
    return `must be ${[...new Set(types)].join(' or ')}`
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
    case 'pattern':
      return e.params.pattern === '^[^\\u0000]*$'
        ? 'must not contain NUL (\\u0000) characters'
        : `must match the pattern ${e.params.pattern}`
    case 'additionalProperties':
      return 'is not a known field'
    default:
      return e.message
  }
}

/**
 * Human sentences for what is wrong with a value, one per offending field, most useful first:
 * `body/conversation_id is required`, `body/message_type must be one of "ANSWER", "QUESTION"`.
 */
export function explain(errors: Iterable<SchemaError>, path: PathStyle, max = 12): string[] {
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
        out.push(`${path([...segmentsOf(error.instancePath), String(name)])} is not a known field`)
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
    out.push(`${path(segmentsOf(pointer))} ${describe(list)}`)
  }
  return [...new Set(out)].slice(0, max)
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
    problems: (value, path) => (compiled.Check(value) ? [] : explain(compiled.Errors(value) as SchemaError[], path))
  }
}
