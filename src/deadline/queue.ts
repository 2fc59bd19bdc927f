import type { Clock } from '../clock.js'

/**
 * One waiting deadline in a {@link DeadlineQueue}; `cancel()` takes it out
 * in constant time.
 */
export class QueueEntry<Context> {
  prev: QueueEntry<Context> | undefined
  next: QueueEntry<Context> | undefined
  queue: DeadlineQueue<Context> | undefined

  constructor (readonly expiresAt: number, readonly context: Context) {}

  cancel (): void {
    this.queue?.remove(this)
  }
}

// A Node timer may fire a fraction of a millisecond before performance.now()
// reaches the expiry it was armed for; such entries count as expired rather
// than being re-armed a whole millisecond later.
const EARLY_TOLERANCE_MS = 1

/**
 * Deadlines that all share one duration expire in the order they were
 * added, so a linked list in arrival order is already sorted: one Node
 * timer, armed for the oldest entry, serves them all. Adding and
 * cancelling cost a list link instead of a timer each.
 */
export class DeadlineQueue<Context> {
  #head: QueueEntry<Context> | undefined
  #tail: QueueEntry<Context> | undefined
  #timer: NodeJS.Timeout | undefined
  #size = 0
  readonly #clock: Clock
  readonly #onExpire: (context: Context) => void

  constructor (readonly durationMs: number, clock: Clock, onExpire: (context: Context) => void) {
    this.#clock = clock
    this.#onExpire = onExpire
  }

  get size (): number {
    return this.#size
  }

  /**
   * Adds a deadline of this queue's duration that expires at `expiresAt`
   * (by the queue's clock); `onExpire(context)` runs when it passes. Entries
   * must be added in the order they expire.
   */
  add (context: Context, expiresAt: number): QueueEntry<Context> {
    const entry = new QueueEntry(expiresAt, context)
    entry.queue = this
    entry.prev = this.#tail
    if (this.#tail === undefined) this.#head = entry
    else this.#tail.next = entry
    this.#tail = entry
    this.#size += 1
    if (this.#timer === undefined) this.#arm(expiresAt - this.#clock.now())
    return entry
  }

  remove (entry: QueueEntry<Context>): void {
    if (entry.queue !== this) return
    if (entry.prev === undefined) this.#head = entry.next
    else entry.prev.next = entry.next
    if (entry.next === undefined) this.#tail = entry.prev
    else entry.next.prev = entry.prev
    entry.prev = undefined
    entry.next = undefined
    entry.queue = undefined
    this.#size -= 1
    // The armed timer stays: it finds nothing due and re-arms for the new
    // head, which costs one wake-up per duration instead of a clearTimeout
    // per request.
    if (this.#size === 0) this.#disarm()
  }

  /** Stops the timer; entries left are never expired. */
  close (): void {
    this.#disarm()
    while (this.#head !== undefined) this.remove(this.#head)
  }

  #arm (delayMs: number): void {
    this.#timer = setTimeout(runQueue, Math.max(1, Math.ceil(delayMs)), this)
    this.#timer.unref()
  }

  #disarm (): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer)
      this.#timer = undefined
    }
  }

  /** Expires every entry that is due, then re-arms for the next one. */
  run (): void {
    this.#timer = undefined
    const now = this.#clock.now()
    let entry = this.#head
    while (entry !== undefined && entry.expiresAt - now < EARLY_TOLERANCE_MS) {
      this.remove(entry)
      this.#onExpire(entry.context)
      entry = this.#head
    }
    if (entry !== undefined && this.#timer === undefined) this.#arm(entry.expiresAt - now)
  }
}

function runQueue (queue: { run: () => void }): void {
  queue.run()
}
