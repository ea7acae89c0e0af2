/**
 * The keys that occur twice in one object of a JSON text, at any depth (`a.b` for a nested one).
 * JSON.parse keeps the last silently; log readers differ, so a log line must not have any.
 */
export function duplicateKeys(text: string): string[] {
  let at = 0
  const found: string[] = []
  const space = () => {
    while (/\s/.test(text[at] ?? '')) at++
  }
  const string = (): string => {
    const start = at
    at++
    while (text[at] !== '"') at += text[at] === '\\' ? 2 : 1
    at++
    return JSON.parse(text.slice(start, at)) as string
  }
  const value = (path: string): void => {
    space()
    const c = text[at]
    if (c === '{') {
      at++
      const seen = new Set<string>()
      space()
      while (text[at] !== '}') {
        space()
        const key = string()
        if (seen.has(key)) found.push(path + key)
        seen.add(key)
        space()
        at++ // :
        value(`${path}${key}.`)
        space()
        if (text[at] === ',') at++
        space()
      }
      at++
    } else if (c === '[') {
      at++
      space()
      while (text[at] !== ']') {
        value(path)
        space()
        if (text[at] === ',') at++
        space()
      }
      at++
    } else if (c === '"') string()
    else while (at < text.length && !/[,}\]\s]/.test(text[at]!)) at++
  }
  value('')
  return found
}
