import { createHash, timingSafeEqual } from 'node:crypto'

/** Digests make every comparison the same length, so neither a token nor its length leaks through timing. */
const digest = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest()

/** Prepared tokens (a webhook source's, or the admin token), compared in constant time. */
export class TokenSet {
  private readonly digests: Buffer[]
  constructor(tokens: string[]) {
    this.digests = tokens.map(digest)
  }

  get size(): number {
    return this.digests.length
  }

  /** Compares against every token, without stopping at the first match. */
  matches(candidate: string): boolean {
    const d = digest(candidate)
    let found = false
    for (const known of this.digests) found = timingSafeEqual(d, known) || found
    return found
  }
}
