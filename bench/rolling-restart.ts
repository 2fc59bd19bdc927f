import { rollingRestart } from '../test/helpers/rolling-restart.js'

/*
 * A rolling restart under steady load: two processes with graceful
 * shutdown behind client-side round-robin that follows readiness; each
 * gets SIGTERM in turn and is replaced. Prints the requests served, the
 * admitted requests that failed and the connections reset (both should
 * be 0). Runs in well under two minutes.
 */
const ROUNDS = 2
const options = { workers: 16, steadyMs: 4000, graceMs: 2000, workMs: 20, probeMs: 100 }

let failedAdmitted = 0
let resets = 0
let refused = 0
let succeeded = 0
const startedAt = Date.now()
for (let round = 1; round <= ROUNDS; round++) {
  const result = await rollingRestart(options)
  failedAdmitted += result.failedAdmitted
  resets += result.resets
  refused += result.refused
  succeeded += result.succeeded
  console.log(`round ${round}: ${result.succeeded} served, ${result.failedAdmitted} failed admitted, ${result.resets} resets, ${result.refused} refused connections, ${result.redirected} redirected (503 + Connection: close), exit codes ${result.exitCodes.join(', ')}${result.failures.length > 0 ? `; e.g. ${result.failures.join('; ')}` : ''}`)
}
console.log(`rolling restart, ${ROUNDS} rounds × 2 restarts, ${options.workers} concurrent clients: ${succeeded} served, ${failedAdmitted} failed admitted, ${resets} resets, ${refused} refused connections (${((Date.now() - startedAt) / 1000).toFixed(0)} s)`)
process.exitCode = failedAdmitted + resets > 0 ? 1 : 0
