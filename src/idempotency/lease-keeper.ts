/**
 * Renews every lease held by this process from one interval timer, rather
 * than one timer per request; the timer stops at its first tick with no
 * lease held.
 */
export class LeaseKeeper<Lease> {
  readonly #held = new Set<Lease>()
  readonly #intervalMs: number
  readonly #renew: (lease: Lease) => void
  #timer: NodeJS.Timeout | undefined

  constructor (intervalMs: number, renew: (lease: Lease) => void) {
    this.#intervalMs = Math.max(1, intervalMs)
    this.#renew = renew
  }

  get size (): number {
    return this.#held.size
  }

  /** The leases held now. */
  held (): Lease[] {
    return [...this.#held]
  }

  hold (lease: Lease): void {
    this.#held.add(lease)
    if (this.#timer === undefined) {
      this.#timer = setInterval(renewAll, this.#intervalMs, this)
      this.#timer.unref()
    }
  }

  /** Stops renewing `lease`; false when it was not held (dropped already). */
  drop (lease: Lease): boolean {
    // The timer stays until its next tick: with short requests the last
    // lease goes and the next one comes within microseconds, and a timer
    // set and cleared for each would cost more than the request's claim.
    return this.#held.delete(lease)
  }

  renewAll (): void {
    if (this.#held.size === 0) {
      this.close()
      return
    }
    for (const lease of this.#held) this.#renew(lease)
  }

  close (): void {
    if (this.#timer !== undefined) {
      clearInterval(this.#timer)
      this.#timer = undefined
    }
  }
}

function renewAll (keeper: { renewAll: () => void }): void {
  keeper.renewAll()
}
