/** One sample of @fastify/under-pressure's `memoryUsage()`. */
export interface PressureSample {
  eventLoopDelay: number
  eventLoopUtilized: number
  heapUsed: number
  rssBytes: number
}

/** Thresholds per signal; 0 turns a signal off. */
export interface PressureThresholds {
  maxEventLoopDelay: number
  maxEventLoopUtilization: number
  maxHeapUsedBytes: number
  maxRssBytes: number
}

const MIB = 1024 * 1024

/** Describes the first signal of `sample` over its threshold, or undefined when none is. */
export function pressureSignal (sample: PressureSample, thresholds: PressureThresholds): string | undefined {
  const { maxEventLoopDelay, maxEventLoopUtilization, maxHeapUsedBytes, maxRssBytes } = thresholds
  if (maxEventLoopDelay > 0 && sample.eventLoopDelay > maxEventLoopDelay) {
    // under-pressure reports Infinity when no delay sample was taken at all:
    // the loop was blocked for the whole sampling interval.
    if (!Number.isFinite(sample.eventLoopDelay)) return `event loop blocked for a whole sampling interval (delay threshold ${maxEventLoopDelay} ms)`
    return `event-loop delay ${Math.round(sample.eventLoopDelay)} ms over ${maxEventLoopDelay} ms`
  }
  if (maxEventLoopUtilization > 0 && sample.eventLoopUtilized > maxEventLoopUtilization) {
    return `event-loop utilisation ${sample.eventLoopUtilized.toFixed(2)} over ${maxEventLoopUtilization}`
  }
  if (maxHeapUsedBytes > 0 && sample.heapUsed > maxHeapUsedBytes) {
    return `heap ${Math.round(sample.heapUsed / MIB)} MiB over ${Math.round(maxHeapUsedBytes / MIB)} MiB`
  }
  if (maxRssBytes > 0 && sample.rssBytes > maxRssBytes) {
    return `RSS ${Math.round(sample.rssBytes / MIB)} MiB over ${Math.round(maxRssBytes / MIB)} MiB`
  }
  return undefined
}
