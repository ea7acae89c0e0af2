import type { Registry } from 'prom-client'
import type { Clock } from '../clock.js'

const MINUTE = 60_000

/** The value of each labelled sample of a counter in the relay's registry, or undefined without metrics. */
export async function counterValues(
  registry: Registry | undefined,
  name: string
): Promise<{ labels: Record<string, string | number>; value: number }[] | undefined> {
  const metric = registry?.getSingleMetric(name)
  if (!metric) return undefined
  const { values } = await metric.get()
  return values.map(({ labels, value }) => ({ labels: labels as Record<string, string | number>, value }))
}

/** Sums a counter's samples by one label. */
export async function counterBy(
  registry: Registry | undefined,
  name: string,
  label: string,
  where: (labels: Record<string, string | number>) => boolean = () => true
): Promise<Record<string, number> | undefined> {
  const values = await counterValues(registry, name)
  if (!values) return undefined
  const sums: Record<string, number> = {}
  for (const { labels, value } of values) {
    if (!where(labels)) continue
    const key = String(labels[label] ?? '')
    sums[key] = (sums[key] ?? 0) + value
  }
  return sums
}

/**
 * Messages delivered per minute by relay, from the delivery counter of the relay's own metrics
 * (so nothing is counted twice): at each sample, how far the counter moved since the last one is
 * added to the current minute. The registry is the app's own, so it starts at zero with the
 * process. This replica's deliveries only; a fixed number of minutes is kept.
 */
export class DeliveredPerMinute {
  private readonly perMinute = new Map<string, Map<number, number>>()
  private readonly lastTotal = new Map<string, number>()

  constructor(
    private readonly registry: Registry | undefined,
    private readonly clock: Clock,
    readonly minutes = 30
  ) {}

  get available(): boolean {
    return this.registry !== undefined
  }

  async sample(): Promise<void> {
    const totals = await counterBy(
      this.registry,
      'gptbots_relay_delivery_attempts_total',
      'relay',
      labels => labels.outcome === 'delivered'
    )
    if (!totals) return
    const minute = Math.floor(this.clock.now() / MINUTE)
    for (const [relay, total] of Object.entries(totals)) {
      const moved = Math.max(0, total - (this.lastTotal.get(relay) ?? 0))
      this.lastTotal.set(relay, total)
      let minutes = this.perMinute.get(relay)
      if (!minutes) this.perMinute.set(relay, (minutes = new Map()))
      minutes.set(minute, (minutes.get(minute) ?? 0) + moved)
      for (const old of minutes.keys()) if (old <= minute - this.minutes) minutes.delete(old)
    }
  }

  /** The last `minutes` minutes for a relay, oldest first, the current minute last. */
  series(relay: string): number[] {
    const minutes = this.perMinute.get(relay)
    const now = Math.floor(this.clock.now() / MINUTE)
    const out: number[] = []
    for (let at = now - this.minutes + 1; at <= now; at++) out.push(minutes?.get(at) ?? 0)
    return out
  }
}
