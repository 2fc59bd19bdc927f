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
 * Deadlines that all share one duration expire nearly in the order they
 * arrive, so a linked list kept in expiry order is almost always appended
 * at its tail: one Node timer, armed for the head, serves them all. Adding
 * and cancelling cost a list link instead of a timer each.
 */
export class DeadlineQueue<Context> {
  #head: QueueEntry<Context> | undefined
  #tail: QueueEntry<Context> | undefined
  #timer: NodeJS.Timeout | undefined
  #armedFor = Number.POSITIVE_INFINITY
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
   * Adds a deadline that expires at `expiresAt` (by the queue's clock);
   * `onExpire(context)` runs when it passes.
   */
  add (context: Context, expiresAt: number): QueueEntry<Context> {
    const entry = new QueueEntry(expiresAt, context)
    entry.queue = this
    // Walk back from the tail: entries arrive in expiry order unless slow
    // onRequest hooks delayed an older one, so this loop rarely runs.
    let before = this.#tail
    while (before !== undefined && before.expiresAt > expiresAt) before = before.prev
    entry.prev = before
    entry.next = before === undefined ? this.#head : before.next
    if (entry.prev === undefined) this.#head = entry
    else entry.prev.next = entry
    if (entry.next === undefined) this.#tail = entry
    else entry.next.prev = entry
    this.#size += 1
    if (expiresAt < this.#armedFor) {
      this.#disarm()
      this.#arm(expiresAt)
    }
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

  #arm (expiresAt: number): void {
    this.#armedFor = expiresAt
    // Rounded, not rounded up: Node fires a timer on whole milliseconds of
    // its loop clock, so rounding up made the head wait about half a
    // millisecond more than a plain timer would (each re-arm for the next
    // head again); one that fires a little early finds its entry within
    // EARLY_TOLERANCE_MS, or re-arms.
    // Not unref'd: requests wait on it (app.inject in a script or a test
    // has nothing else holding the process); it is disarmed once empty.
    this.#timer = setTimeout(runQueue, Math.max(1, Math.round(expiresAt - this.#clock.now())), this)
  }

  #disarm (): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer)
      this.#timer = undefined
    }
    this.#armedFor = Number.POSITIVE_INFINITY
  }

  /** Expires every entry that is due, then re-arms for the next one. */
  run (): void {
    this.#timer = undefined
    this.#armedFor = Number.POSITIVE_INFINITY
    const now = this.#clock.now()
    let entry = this.#head
    while (entry !== undefined && entry.expiresAt - now < EARLY_TOLERANCE_MS) {
      this.remove(entry)
      this.#onExpire(entry.context)
      entry = this.#head
    }
    if (entry !== undefined && this.#timer === undefined) this.#arm(entry.expiresAt)
  }
}

function runQueue (queue: { run: () => void }): void {
  queue.run()
}
