/**
 * A seeded source of numbers in [0, 1): the same seed gives the same
 * sequence, so an experiment's decisions can be replayed. Mulberry32, a
 * 32-bit generator that is fast and good enough for sampling (not for
 * secrets).
 */
export function seededRandom (seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6D2B79F5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** A sample of a normal distribution (Box–Muller) from a uniform source. */
export function normalSample (random: () => number, mean: number, stdDev: number): number {
  const u = 1 - random()
  const v = random()
  return mean + stdDev * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)
}
