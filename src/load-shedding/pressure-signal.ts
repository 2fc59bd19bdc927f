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

const BYTE = [1, 'byte'] as const
const UNITS = [[1024 * 1024 * 1024, 'GiB'], [1024 * 1024, 'MiB'], [1024, 'KiB'], BYTE] as const

/**
 * A sample and its threshold in bytes, each in the largest unit that fits
 * it, with as many decimals (up to three) as it takes for the sample to
 * read larger than its threshold: "heap 16 MiB over 1 KiB", never "over
 * 0 MiB", and "100.2 MiB over 100 MiB" rather than "100 MiB over 100 MiB".
 */
function bytesOver (bytes: number, threshold: number): string {
  const inUnit = (value: number, decimals: number): string => {
    const [size, name] = UNITS.find(([unitSize]) => value >= unitSize) ?? BYTE
    if (size === 1) return value === 1 ? '1 byte' : `${value} bytes`
    const amount = value / size
    // One decimal more under ten of a unit: 3.5 GiB, not 4.
    return `${Number(amount.toFixed(decimals + (amount < 10 ? 1 : 0)))} ${name}`
  }
  let decimals = 0
  while (decimals < 3 && inUnit(bytes, decimals) === inUnit(threshold, decimals)) decimals++
  return `${inUnit(bytes, decimals)} over ${inUnit(threshold, decimals)}`
}

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
    return `heap ${bytesOver(sample.heapUsed, maxHeapUsedBytes)}`
  }
  if (maxRssBytes > 0 && sample.rssBytes > maxRssBytes) {
    return `RSS ${bytesOver(sample.rssBytes, maxRssBytes)}`
  }
  return undefined
}
