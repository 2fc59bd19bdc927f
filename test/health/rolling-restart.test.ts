import { describe, expect, it } from 'vitest'
import { rollingRestart } from '../helpers/rolling-restart.js'

/*
 * A deploy: two processes behind client-side round-robin that follows
 * readiness, each restarted in turn with SIGTERM under steady load. No
 * request that an instance admitted may fail, and no client may see its
 * connection reset.
 */
describe('rolling restart', () => {
  it('loses no admitted request and resets no connection while both instances restart under load', async () => {
    const result = await rollingRestart({ workers: 4, steadyMs: 600, graceMs: 1000, workMs: 10, probeMs: 50 })
    expect(result.failures).toEqual([])
    expect(result.failedAdmitted).toBe(0)
    expect(result.resets).toBe(0)
    // Readiness failed for the whole grace period before the listener
    // closed, so the client had stopped choosing the instance by then.
    expect(result.refused).toBe(0)
    // Shut down by their signal handler, cleanly.
    expect(result.exitCodes).toEqual([0, 0])
    // Load actually ran through the restarts.
    expect(result.succeeded).toBeGreaterThan(50)
  }, 90_000)
})
