import type { FastifyInstance } from 'fastify'

export interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

/** Reads Prometheus text exposition into samples; comments are skipped. */
export function parseSamples(text: string): Sample[] {
  const samples: Sample[] = []
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (!match) throw new Error(`not a sample line: ${line}`)
    const labels: Record<string, string> = {}
    for (const [, key, value] of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[key!] = value!
    samples.push({ name: match[1]!, labels, value: Number(match[3]) })
  }
  return samples
}

/** The samples of one scrape, looked up by name and an exact label set. */
export class Scrape {
  readonly samples: Sample[]
  constructor(readonly text: string) {
    this.samples = parseSamples(text)
  }

  /** The value of the sample with exactly these labels, or undefined when there is none. */
  value(name: string, labels: Record<string, string> = {}): number | undefined {
    const wanted = Object.entries(labels)
    return this.samples.find(
      s =>
        s.name === name &&
        Object.keys(s.labels).length === wanted.length &&
        wanted.every(([key, value]) => s.labels[key] === value)
    )?.value
  }

  /** Every sample of a metric. */
  all(name: string): Sample[] {
    return this.samples.filter(s => s.name === name)
  }
}

export async function scrape(app: FastifyInstance): Promise<Scrape> {
  const res = await app.inject({ method: 'GET', url: '/metrics' })
  if (res.statusCode !== 200) throw new Error(`GET /metrics answered ${res.statusCode}: ${res.body}`)
  return new Scrape(res.body)
}
