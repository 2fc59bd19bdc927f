import type { Priority } from './priority.js'
import { PRIORITY_RANK } from './priority.js'
import type { ShedReason } from './shed-reason.js'

/** A request waiting for a slot. */
export interface Waiter {
  readonly priority: Priority
  /** Set by the controller when the waiter joins the line. */
  expiresAt: number
  expiryReason: ShedReason
  /** A slot is now held for this request. */
  grant: () => void
  /** The request is refused. */
  shed: (reason: ShedReason) => void
}

/**
 * Waiting requests, one first-in-first-out line per priority class; the
 * highest class is served first and the lowest is evicted first.
 */
export class WaitingLine {
  // Indexed by rank: 0 is `low`, 3 is `critical`.
  readonly #lines: Waiter[][] = [[], [], [], []]
  #size = 0

  get size (): number {
    return this.#size
  }

  push (waiter: Waiter): void {
    this.#lineOf(waiter).push(waiter)
    this.#size++
  }

  /** The longest-waiting request of the highest class present. */
  peek (): Waiter | undefined {
    // Asked on every admission and release, nearly always of an empty line.
    if (this.#size === 0) return undefined
    for (let rank = 3; rank >= 0; rank--) {
      const first = this.#lines[rank]?.[0]
      if (first !== undefined) return first
    }
    return undefined
  }

  shift (): Waiter | undefined {
    const first = this.peek()
    if (first !== undefined) this.remove(first)
    return first
  }

  /** How many waiters of `priority` or a higher class are in line. */
  countAtOrAbove (priority: Priority): number {
    let count = 0
    for (let rank = PRIORITY_RANK[priority]; rank <= 3; rank++) count += this.#lines[rank]?.length ?? 0
    return count
  }

  /** Removes and returns the newest waiter of the lowest class below `priority`, if any. */
  evictBelow (priority: Priority): Waiter | undefined {
    for (let rank = 0; rank < PRIORITY_RANK[priority]; rank++) {
      const line = this.#lines[rank]
      if (line !== undefined && line.length > 0) {
        this.#size--
        return line.pop()
      }
    }
    return undefined
  }

  remove (waiter: Waiter): boolean {
    const line = this.#lineOf(waiter)
    const index = line.indexOf(waiter)
    if (index === -1) return false
    line.splice(index, 1)
    this.#size--
    return true
  }

  /** Removes and returns every waiter whose time is up at `now`. */
  takeExpired (now: number): Waiter[] {
    const expired: Waiter[] = []
    for (const line of this.#lines) {
      for (let i = 0; i < line.length;) {
        const waiter = line[i] as Waiter
        if (waiter.expiresAt <= now) {
          line.splice(i, 1)
          this.#size--
          expired.push(waiter)
        } else {
          i++
        }
      }
    }
    return expired
  }

  /** The earliest expiry in line, or Infinity when nobody waits. */
  earliestExpiry (): number {
    let earliest = Infinity
    for (const line of this.#lines) {
      for (const waiter of line) if (waiter.expiresAt < earliest) earliest = waiter.expiresAt
    }
    return earliest
  }

  #lineOf (waiter: Waiter): Waiter[] {
    return this.#lines[PRIORITY_RANK[waiter.priority]] as Waiter[]
  }
}
