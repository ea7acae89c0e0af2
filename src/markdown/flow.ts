/*
 * A rendered message as a flow the splitter can cut: units (a word, a code line, a table row,
 * a platform block) with the gaps between them. A gap says how it is written and how good a
 * place it is to end a post. Flows of several messages concatenate, so a combined post is
 * split as one.
 */

/** A code block's fences: closed at a cut inside it, and opened again in the next post. */
export interface Fence {
  /** The opening line where the block starts, container prefix included (`- ```ts`). */
  open: string
  /** The closing line. */
  close: string
  /** The opening line in a post that continues the block: no container prefix. */
  reopen: string
  /** The container prefix of every line inside (`  `, `> `), left out when the block is reopened. */
  indent: string
  /** Lines written again after `reopen` (a monospace table's header and rule). */
  repeat?: string[]
}

/** One piece of rendered output that is never cut, unless it is longer than a whole post. */
export interface Unit {
  text: string
  /** The same piece as plain text, for notifications and previews. */
  plain: string
  /** Set on the lines of a code block. */
  fence?: Fence
  /** One of the lines a reopened block repeats (`Fence.repeat`): not repeated before itself. */
  head?: boolean
  /** A platform block (a Slack table or divider) that stands between texts instead of in them. */
  block?: unknown
  /** A platform table block, of which a post may hold only so many (`PostLimits.tables`). */
  table?: boolean
}

/** What stands between two units. */
export interface Gap {
  join: string
  /** The join in plain text. */
  plain: string
  /** How good a place to end a post: higher is better, 0 never. */
  rank: number
}

/** Ranks of the places a post may end, best first. */
export const Rank = {
  message: 8,
  block: 6,
  item: 5,
  nested: 4,
  line: 3,
  softBreak: 2,
  word: 1,
  never: 0
} as const

export interface Flow {
  units: Unit[]
  /** `gaps[i]` stands between `units[i]` and `units[i + 1]`. */
  gaps: Gap[]
}

/** Builds a flow: units are added in order, each after the strongest gap asked for since the last. */
export class FlowBuilder {
  readonly units: Unit[] = []
  readonly gaps: Gap[] = []
  private pending: Gap | undefined

  /** Asks for a gap before the next unit; of several asks, the strongest wins. */
  gap(join: string, rank: number, plain = join): void {
    if (this.units.length === 0) return
    if (!this.pending || rank > this.pending.rank) this.pending = { join, plain, rank }
  }

  unit(unit: Unit): void {
    if (this.units.length > 0) this.gaps.push(this.pending ?? { join: '', plain: '', rank: Rank.never })
    this.pending = undefined
    this.units.push(unit)
  }

  get empty(): boolean {
    return this.units.length === 0
  }

  flow(): Flow {
    return { units: this.units, gaps: this.gaps }
  }
}

/** Joins flows (several messages of one post) with a gap between each: the best place to cut. */
export function joinFlows(flows: Flow[], join = '\n\n', rank: number = Rank.message): Flow {
  const units: Unit[] = []
  const gaps: Gap[] = []
  for (const flow of flows) {
    if (flow.units.length === 0) continue
    if (units.length > 0) gaps.push({ join, plain: join, rank })
    units.push(...flow.units)
    gaps.push(...flow.gaps)
  }
  return { units, gaps }
}

/** A flow of one unit of text, such as a header line. */
export function textFlow(text: string, plain = text): Flow {
  return { units: text ? [{ text, plain }] : [], gaps: [] }
}
