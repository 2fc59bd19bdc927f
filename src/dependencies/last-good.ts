interface Entry<S> {
  value: S
  at: number
}

/**
 * The last good answer per call key, for a stale-if-error fallback. Holds
 * at most `capacity` keys, dropping the least recently stored.
 */
export class LastGoodStore<S> {
  readonly #entries = new Map<string, Entry<S>>()
  readonly #capacity: number

  constructor (capacity = 1000) {
    this.#capacity = capacity
  }

  set (key: string, value: S, now: number): void {
    this.#entries.delete(key)
    this.#entries.set(key, { value, at: now })
    if (this.#entries.size > this.#capacity) {
      const oldest = this.#entries.keys().next()
      if (oldest.done !== true) this.#entries.delete(oldest.value)
    }
  }

  /** The answer stored under `key` if it is at most `maxAgeMs` old. */
  get (key: string, now: number, maxAgeMs: number): { value: S, ageMs: number } | undefined {
    const entry = this.#entries.get(key)
    if (entry === undefined) return undefined
    const ageMs = now - entry.at
    return ageMs <= maxAgeMs ? { value: entry.value, ageMs } : undefined
  }
}
