export interface BackoffPolicy {
  baseMs: number
  maxMs: number
}

/**
 * Delay before retry number `failures` (1 after the first failure): exponential, capped, with
 * "equal jitter" (half fixed, half random) so that lanes failing together spread out without any
 * retry coming back almost at once.
 */
export function backoffDelay(failures: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, failures - 1))
  return Math.round(ceiling / 2 + random() * (ceiling / 2))
}
