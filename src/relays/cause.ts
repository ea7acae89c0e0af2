/**
 * The most specific reason in an error's chain of causes, for one-line messages: `fetch failed`
 * says less than its cause, `bad port` or `connect ECONNREFUSED 127.0.0.1:1`.
 */
export function rootCause(error: unknown): string {
  let current = error
  for (let depth = 0; depth < 10 && current instanceof Error && current.cause !== undefined; depth++)
    current = current.cause
  if (!(current instanceof Error)) return String(current)
  const code = (current as { code?: unknown }).code
  return typeof code === 'string' && !current.message.includes(code) ? `${current.message} (${code})` : current.message
}
