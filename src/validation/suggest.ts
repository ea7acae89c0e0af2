import { distance } from 'fastest-levenshtein'

/**
 * The candidate a misspelt word most likely meant, if one is near enough: at most a third of its
 * letters differ, rounded up (so `prot` still finds `port`), ignoring case.
 */
export function nearest(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined
  let bestDistance = Number.POSITIVE_INFINITY
  for (const candidate of candidates) {
    const d = distance(word.toLowerCase(), candidate.toLowerCase())
    if (d < bestDistance) {
      best = candidate
      bestDistance = d
    }
  }
  if (best === undefined || bestDistance === 0) return best
  return bestDistance <= Math.ceil(Math.max(word.length, best.length) / 3) ? best : undefined
}

/** `"a", "b" or "c"`: choices as a config file would spell them. */
export function choices(values: readonly unknown[]): string {
  const quoted = values.map(v => JSON.stringify(v))
  return quoted.length < 2 ? (quoted[0] ?? '') : `${quoted.slice(0, -1).join(', ')} or ${quoted.at(-1)}`
}
