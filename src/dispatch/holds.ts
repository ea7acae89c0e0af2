import type { RelayLogger } from '../relays/types.js'

/** Why a relay's deliveries wait, and since when (ms since the epoch). */
export interface HeldRelay {
  reason: string
  since: number
}

interface Hold extends HeldRelay {
  /** When one delivery may try again, to see whether the credentials work now. */
  checkAt: number
  /** The lane whose delivery is trying now; the relay's other lanes keep waiting. */
  probe?: number
  /** A config reload asked for the re-check: say how it went, even when the relay stays held. */
  afterReload?: boolean
}

/**
 * The relays whose credentials the platform refused (a relay answered `held`). Their lanes are
 * not claimed, so nothing of theirs is attempted, counted or dead-lettered; every `recheckMs`, and
 * at once after a config reload, one delivery is let through to try: delivered (or refused for a
 * reason of its own) ends the hold, another `held` keeps it. The log says so once per hold.
 */
export class RelayHolds {
  readonly #holds = new Map<string, Hold>()

  constructor(
    private readonly logger: RelayLogger,
    private readonly recheckMs: number
  ) {}

  /** Of these relays, those whose lanes may be claimed now. */
  claimable(relays: string[], now: number): string[] {
    return relays.filter(relay => {
      const hold = this.#holds.get(relay)
      return !hold || (hold.probe === undefined && hold.checkAt <= now)
    })
  }

  /** Whether a lane of `relay` may attempt its delivery now: a held relay lets through one, its probe. */
  mayAttempt(relay: string, lane: number, now: number): boolean {
    const hold = this.#holds.get(relay)
    if (!hold) return true
    if (hold.probe === undefined && hold.checkAt <= now) hold.probe = lane
    return hold.probe === lane
  }

  /** The relay answered `held`: its lanes pause from now on. */
  hold(relay: string, reason: string, now: number): void {
    const hold = this.#holds.get(relay)
    if (!hold) {
      this.#holds.set(relay, { reason, since: now, checkAt: now + this.recheckMs })
      this.logger.error(
        { relay, error: reason },
        `relay "${relay}" is held: ${reason}. Its messages are kept, none is dead-lettered; fix the credentials ` +
          `and reload the config (SIGHUP or POST /admin/reload). It is tried again every ${Math.round(this.recheckMs / 1000)} s`
      )
      return
    }
    if (hold.afterReload)
      this.logger.warn({ relay, error: reason }, `relay "${relay}" is still held after the config reload: ${reason}`)
    else this.logger.debug({ relay, error: reason }, `relay "${relay}" is still held: ${reason}`)
    Object.assign(hold, { reason, checkAt: now + this.recheckMs, probe: undefined, afterReload: false })
  }

  /** A lane's attempt ended otherwise than `held`: if it was the relay's probe, the hold ends (true). */
  settled(relay: string, lane: number, now: number, outcome: string): boolean {
    const hold = this.#holds.get(relay)
    if (hold?.probe !== lane) return false
    if (outcome === 'retry') {
      // The platform could not be asked (a network error, a timeout): nothing is known yet.
      Object.assign(hold, { checkAt: now + this.recheckMs, probe: undefined })
      return false
    }
    this.#holds.delete(relay)
    this.logger.info(
      { relay, heldMs: now - hold.since },
      `relay "${relay}" is no longer held: its credentials were accepted; its waiting messages go out now`
    )
    return true
  }

  /** The probe lane stopped before an outcome (shutdown, a store error): another may try. */
  abandoned(relay: string, lane: number): void {
    const hold = this.#holds.get(relay)
    if (hold?.probe === lane) hold.probe = undefined
  }

  /** A config reload: held relays still configured try again at once; the others are forgotten. */
  recheck(configured: ReadonlySet<string>, now: number): void {
    for (const [relay, hold] of this.#holds) {
      if (!configured.has(relay)) this.#holds.delete(relay)
      else Object.assign(hold, { checkAt: Math.min(hold.checkAt, now), afterReload: true })
    }
  }

  /** The earliest re-check still to come, for the dispatcher's sleep. */
  nextCheckAt(): number | undefined {
    let next: number | undefined
    for (const hold of this.#holds.values())
      if (hold.probe === undefined && (next === undefined || hold.checkAt < next)) next = hold.checkAt
    return next
  }

  /** The held relays, by name. */
  current(): Map<string, HeldRelay> {
    return new Map([...this.#holds].map(([relay, { reason, since }]) => [relay, { reason, since }]))
  }
}
