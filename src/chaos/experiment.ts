import { describeValue } from '../describe.js'
import { FRS_ERR_OPTION_INVALID } from '../errors.js'
import { assertKnownKeys, assertOptionsObject, optionalIntegerBetween } from '../options.js'
import { matches, resolveFault } from './fault.js'
import type { Fault, FaultSpec, RequestFacts } from './fault.js'
import { seededRandom } from './random.js'

/** A named, time-boxed set of faults, with its own seeded random source. */
export interface ExperimentSpec {
  name: string
  faults: FaultSpec[]
  /** Seed of the experiment's random source: the same seed gives the same decisions. @default a random seed */
  seed?: number
  /** When it starts, as a Date or epoch milliseconds. @default when it is added */
  startAt?: Date | number
  /** How long it runs. @default 300_000 (five minutes) */
  durationMs?: number
  /** Faults of this experiment in progress at once, at most. @default unlimited (the plugin's cap applies) */
  maxActiveFaults?: number
}

const NAME = /^[a-zA-Z0-9_.:-]{1,64}$/
export const EXPERIMENT_KEYS = ['name', 'faults', 'seed', 'startAt', 'durationMs', 'maxActiveFaults'] as const satisfies ReadonlyArray<keyof ExperimentSpec>
const DAY_MS = 86_400_000

export class Experiment {
  readonly name: string
  readonly faults: readonly Fault[]
  readonly seed: number
  readonly startsAt: number
  readonly endsAt: number
  readonly maxActiveFaults: number
  readonly random: () => number
  active = 0
  injected = 0

  constructor (spec: unknown, now: number, defaultSeed: () => number) {
    const where = 'chaos experiment'
    assertOptionsObject(spec, where)
    assertKnownKeys(spec, EXPERIMENT_KEYS, where)
    const { name, faults, seed, startAt, durationMs, maxActiveFaults } = spec
    if (typeof name !== 'string' || !NAME.test(name)) throw new FRS_ERR_OPTION_INVALID(`${where}.name`, 'a name of 1 to 64 letters, digits, _ . : -', describeValue(name))
    if (!Array.isArray(faults) || faults.length === 0) throw new FRS_ERR_OPTION_INVALID(`${where} ${name}: faults`, 'a non-empty array of faults', describeValue(faults))
    this.name = name
    this.faults = faults.map((fault: unknown, index) => resolveFault(fault, `chaos experiment ${name}: faults[${index}]`))
    if (seed !== undefined && (typeof seed !== 'number' || !Number.isInteger(seed))) throw new FRS_ERR_OPTION_INVALID(`${where} ${name}: seed`, 'an integer', describeValue(seed))
    this.seed = (seed as number | undefined) ?? defaultSeed()
    this.random = seededRandom(this.seed)
    const start = startAt instanceof Date ? startAt.getTime() : startAt ?? now
    if (typeof start !== 'number' || !Number.isFinite(start)) throw new FRS_ERR_OPTION_INVALID(`${where} ${name}: startAt`, 'a Date or epoch milliseconds', describeValue(startAt))
    this.startsAt = start
    this.endsAt = start + optionalIntegerBetween(durationMs, `${where} ${name}: durationMs`, 300_000, 1, 7 * DAY_MS, 'an integer of milliseconds up to 7 days')
    this.maxActiveFaults = optionalIntegerBetween(maxActiveFaults, `${where} ${name}: maxActiveFaults`, Number.MAX_SAFE_INTEGER, 1, Number.MAX_SAFE_INTEGER, 'a positive integer')
  }

  isRunning (now: number): boolean {
    return now >= this.startsAt && now < this.endsAt
  }

  /**
   * Draws one decision for every matching fault, in order, whatever the
   * others decide, and returns the first that hit (none while the
   * experiment is at its cap). Always drawing keeps the sequence of
   * decisions a function of the seed and the requests alone.
   */
  draw (facts: RequestFacts): Fault | undefined {
    let hit: Fault | undefined
    for (const fault of this.faults) {
      if (!matches(fault, facts)) continue
      const drawn = this.random()
      if (hit === undefined && drawn < fault.rate) hit = fault
    }
    return this.active >= this.maxActiveFaults ? undefined : hit
  }
}
