/**
 * A Retry-After header in milliseconds: seconds, or an HTTP date read against `now` (the relay's
 * clock, never Date.now(), so that tests can move time). Undefined when absent or unreadable.
 */
export function parseRetryAfter(header: string | null | undefined, now: number): number | undefined {
  const text = header?.trim()
  if (!text) return undefined
  // An HTTP date starts with the day's name; anything starting like a number must be a number of seconds.
  if (/^[\d.+-]/.test(text)) {
    const seconds = Number(text)
    return Number.isFinite(seconds) && seconds >= 0 ? Math.round(seconds * 1000) : undefined
  }
  const date = Date.parse(text)
  return Number.isNaN(date) ? undefined : Math.max(0, date - now)
}
