import type { Clock } from '../clock.js'
import type { ShedReason } from './shed-reason.js'
import type { SheddingCounters } from './stats.js'

/** At most one summary line in this many milliseconds while shedding. */
const SHED_SUMMARY_INTERVAL_MS = 1000

/** One summary line: the sheds since the previous line, in all and by reason. */
export interface ShedSummaryLine {
  shed: number
  /** Only the reasons that shed something since the previous line. */
  byReason: Partial<Record<ShedReason, number>>
}

/**
 * One summary a second while shedding, instead of a line per refusal.
 *
 * The first shed after a quiet second is written at once. The sheds that
 * follow within the second are written by a timer about a second after
 * that line, or earlier by a shed that comes once the second has passed:
 * the tail of an overload is written when it happens, not folded into the
 * first line of the next one, so that each line's counts are those of
 * the second before it and the lines add up to the sheds. The timer is
 * armed only while some sheds are not written yet, so an idle server has
 * none and a shed costs no timer; it is unref'd, so it never keeps a
 * process alive.
 */
export class ShedSummary {
  readonly #counters: SheddingCounters
  readonly #clock: Clock
  readonly #write: (line: ShedSummaryLine) => void
  #writtenAt = -Infinity
  #shedAtLine = 0
  #byReasonAtLine: Record<ShedReason, number>
  #timer: ReturnType<typeof setTimeout> | undefined
  // Made once: arming the timer must not allocate a closure.
  readonly #onTimer = (): void => {
    this.#timer = undefined
    this.#writeLine(this.#clock.now())
  }

  constructor (counters: SheddingCounters, clock: Clock, write: (line: ShedSummaryLine) => void) {
    this.#counters = counters
    this.#clock = clock
    this.#write = write
    this.#byReasonAtLine = { ...counters.byReason }
  }

  /** Called after each shed is counted, with the time it was shed. */
  noteShed (now: number): void {
    if (now - this.#writtenAt >= SHED_SUMMARY_INTERVAL_MS) {
      this.#writeLine(now)
      return
    }
    if (this.#timer !== undefined) return
    // Capped: a clock that went back must not put the line off for longer than a second.
    const delay = Math.min(SHED_SUMMARY_INTERVAL_MS, this.#writtenAt + SHED_SUMMARY_INTERVAL_MS - now)
    this.#timer = setTimeout(this.#onTimer, delay)
    this.#timer.unref()
  }

  /** Writes the sheds not written yet, if any, and stops the timer: on close, so that none are lost. */
  flush (): void {
    this.#writeLine(this.#clock.now())
  }

  #writeLine (now: number): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer)
      this.#timer = undefined
    }
    const counters = this.#counters
    const shed = counters.shedTotal - this.#shedAtLine
    if (shed === 0) return
    // Both counts since the previous line, so that they add up.
    const byReason: Partial<Record<ShedReason, number>> = {}
    for (const [reason, count] of Object.entries(counters.byReason) as Array<[ShedReason, number]>) {
      const since = count - this.#byReasonAtLine[reason]
      if (since > 0) byReason[reason] = since
    }
    this.#writtenAt = now
    this.#shedAtLine = counters.shedTotal
    this.#byReasonAtLine = { ...counters.byReason }
    this.#write({ shed, byReason })
  }
}
