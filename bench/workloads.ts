import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import type { ResilienceOptions } from '../plugins/index.js'

/** CPU cost of one request to /work, in milliseconds. */
export const WORK_MS = 2
/** CPU cost of one request to /work/herd, in milliseconds: a herd of 300 is 3 s of work. */
export const HERD_WORK_MS = 10
/** The downstream pool of /downstream: workers, and the latency of one call when healthy. */
export const DOWNSTREAM_WORKERS = 8
export const DOWNSTREAM_MS = 10

/** Keeps the CPU busy for `ms`, the way a handler that renders or hashes does. */
export function burnCpu (ms: number): void {
  const end = performance.now() + ms
  while (performance.now() < end) { /* busy */ }
}

/**
 * A downstream service with a fixed pool of workers: each call holds one
 * for `latencyMs`, and calls beyond the pool wait in line. Its capacity is
 * workers / latency; making it slower lowers capacity without loading this
 * process's event loop.
 */
export class Downstream {
  latencyMs: number
  readonly #workers: number
  #busy = 0
  readonly #line: Array<() => void> = []

  constructor (workers: number, latencyMs: number) {
    this.#workers = workers
    this.latencyMs = latencyMs
  }

  async call (): Promise<void> {
    if (this.#busy < this.#workers) this.#busy++
    else await new Promise<void>((resolve) => this.#line.push(resolve))
    try {
      await sleep(this.latencyMs)
    } finally {
      const next = this.#line.shift()
      if (next === undefined) this.#busy--
      else next()
    }
  }
}

/**
 * The umbrella's options with every capability on (chaos enabled, its
 * experiment aimed at another route; a declared dependency; one SLO with
 * both indicators), with
 * all metrics and the scrape route, or with `metrics: false`.
 */
export function everyCapability (metricsOn: boolean): ResilienceOptions {
  return {
    metrics: metricsOn ? { path: '/metrics' } : false,
    idempotency: { unscoped: true },
    // Declared, not called by hello-world: its metrics are read at scrape time only.
    dependencies: { downstream: { baseUrl: 'http://127.0.0.1:9' } },
    chaos: { enabled: true, experiments: [{ name: 'elsewhere', faults: [{ type: 'error', rate: 1, status: 503, match: { path: '/elsewhere' } }] }] },
    errorBudget: { objectives: [{ name: 'api', availability: 0.999, latency: { thresholdMs: 100, target: 0.99 } }], defaultObjective: 'api' },
  }
}
