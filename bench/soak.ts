import { Agent } from 'node:http'
import { load, postRequest, startTarget, targetStats } from './harness.js'
import { openLoop } from './open-loop.js'
import type { OpenLoopResult } from './open-loop.js'
import { Report } from './report.js'

/*
 * Soak: every capability on, steady load at about 80 % of capacity with
 * bursts, for a few minutes (`--minutes N`, 10 for the long run). The
 * load: a route that costs 2 ms of CPU at 75 % of its capacity, which
 * keeps the server busy, and beside it a steady trickle of plain GETs,
 * idempotent POSTs (replays of one key and first-time keys), a route whose
 * handler never answers (a 504 at its 50 ms deadline) and a route with
 * chaos faults (errors and latency), each over one keep-alive connection
 * kept for the whole soak. Every fourth window adds a burst of
 * twice capacity for 2 s, which the load shedder refuses in part. The
 * arrival rates are fixed (bench/open-loop.ts), which a Node client can
 * hold at these rates but not at hello-world capacity. After each window
 * the server's live heap (after a forced collection), its active handles
 * and its error log lines are read.
 *
 * Before the first window, first-time POSTs fill the idempotency store to
 * its bound: from then on each new key evicts the oldest, as on a server
 * that has run for a while. Filled during the windows instead (20 keys a
 * second against 10,000 kept), the store would still be growing, by some
 * 420 bytes a key, ten minutes in, and the heap's growth toward that
 * bound would read as a leak.
 */
const WINDOW_SECONDS = 10
const WARMUP_WINDOWS = 3
const FILL_CONNECTIONS = 4
const minutesArg = process.argv.indexOf('--minutes')
const MINUTES = minutesArg === -1 ? Number(process.env.SOAK_MINUTES ?? 3) : Number(process.argv[minutesArg + 1])
if (!(MINUTES > 0)) throw new TypeError(`soak.ts expects --minutes <number>, instead got ${String(process.argv[minutesArg + 1])}`)
const WINDOWS = Math.max(WARMUP_WINDOWS + 2, Math.round(MINUTES * 60 / WINDOW_SECONDS))
const command = MINUTES === 3 ? 'npm run bench:soak' : `npm run bench:soak -- --minutes ${MINUTES}`

interface Stats { heapUsed: number, activeHandles: number, errorLines: number, idempotencyKeys: number }

const report = new Report('soak', command)
const target = await startTarget('umbrella', ['soak=1'], ['--expose-gc'])
const base = `http://127.0.0.1:${target.port}`
let firstTimeKey = 0
// The side traffic keeps one connection per route for the whole soak, as
// a load balancer does: whatever a request leaves behind on its connection
// then shows in the heap, instead of going away with the connections each
// window closes.
const keptConnection = (): Agent => new Agent({ keepAlive: true, maxSockets: 1 })
const kept = { hello: keptConnection(), hang: keptConnection(), chaos: keptConnection(), replays: keptConnection(), firstTimes: keptConnection() }
const json = { 'content-type': 'application/json' }
const body = JSON.stringify({ sku: 7, quantity: 1 })
try {
  // Answers the shedder refused are fast and would inflate the figure: 2xx only.
  const closedLoop = await load(`${base}/work`, 3, { path: '/work' }, 100)
  const capacity = closedLoop.requestsPerSecond - closedLoop.non2xx / 3
  const steady = 0.75 * capacity
  // Full once a second of first-time POSTs leaves as many keys as before;
  // over a few connections, which the shedder lets in.
  const fillStartedAt = performance.now()
  let storedKeys = (await targetStats<Stats>(target.port)).idempotencyKeys
  let fillRefused = 0
  for (;;) {
    fillRefused += (await load(`${base}/orders`, 1, postRequest('first'), FILL_CONNECTIONS)).non2xx
    const now = (await targetStats<Stats>(target.port)).idempotencyKeys
    if (now === storedKeys) break
    storedKeys = now
    if (performance.now() - fillStartedAt > 120_000) throw new Error(`the idempotency store still grows after 2 minutes of first-time POSTs (${now} keys)`)
  }
  const fillSeconds = (performance.now() - fillStartedAt) / 1000
  const SIDE = { hello: 50, hang: 10, chaos: 20, replays: 20, firstTimes: 20 }
  const sideRate = Object.values(SIDE).reduce((sum, value) => sum + value, 0)
  const table = report.table(`Soak, ${MINUTES} min: every capability on; /work (2 ms of CPU) at ${Math.round(steady)} req/s (75 % of its capacity of ${Math.round(capacity)} req/s) and ${sideRate} req/s of other requests; ${WINDOW_SECONDS} s windows, the first ${WARMUP_WINDOWS} are the warm-up`,
    ['window', 'offered', '/work p99', '/work goodput', 'shed (503)', '504 at deadline', 'chaos 500s', 'GETs and idempotent POSTs ok', 'unexpected', 'live heap', 'active handles', 'error log lines'])
  const heaps: number[] = []
  const handles: number[] = []
  const p99s: number[] = []
  let errorLines = 0
  let unexpected = 0
  // Windows after the warm-up in which an event the soak is there to cause did not happen.
  const missing: string[] = []
  let bursts = 0
  for (let window = 1; window <= WINDOWS; window++) {
    const burst = window % 4 === 0
    const run = (url: string, rate: number, extra: Partial<Parameters<typeof openLoop>[0]> = {}): Promise<OpenLoopResult> =>
      openLoop({ url, rate, seconds: WINDOW_SECONDS, skipSeconds: 0, connections: 100, ...extra })
    const [work, spike, hello, hang, chaos, replays, firstTimes] = await Promise.all([
      run(`${base}/work`, steady, { connections: 200 }),
      burst ? openLoop({ url: `${base}/work`, rate: 2 * capacity, seconds: 2, skipSeconds: 0, connections: 200 }) : undefined,
      run(`${base}/hello`, SIDE.hello, { agent: kept.hello }),
      run(`${base}/hang`, SIDE.hang, { expected: [504], agent: kept.hang }),
      run(`${base}/chaos`, SIDE.chaos, { expected: [500], agent: kept.chaos }),
      run(`${base}/orders`, SIDE.replays, { method: 'POST', body, headers: { ...json, 'idempotency-key': 'soak-replay' }, agent: kept.replays }),
      run(`${base}/orders`, SIDE.firstTimes, { method: 'POST', body, headers: () => ({ ...json, 'idempotency-key': `soak-${++firstTimeKey}` }), agent: kept.firstTimes }),
    ])
    // The server sees the load generator's connections close a moment later.
    await new Promise((resolve) => setTimeout(resolve, 1000))
    const measured = await targetStats<Stats>(target.port)
    const all = [work, spike, hello, hang, chaos, replays, firstTimes]
    const shed = all.reduce((sum, result) => sum + (result?.shed ?? 0), 0)
    const odd = all.reduce((sum, result) => sum + (result?.errors ?? 0), 0)
    errorLines = measured.errorLines
    if (window > WARMUP_WINDOWS) {
      heaps.push(measured.heapUsed)
      handles.push(measured.activeHandles)
      if (!burst) p99s.push(work.p99Ms)
      unexpected += odd
      if (burst) bursts++
      if (hang.expected === 0) missing.push(`window ${window}: no 504 at the deadline`)
      if (chaos.expected === 0) missing.push(`window ${window}: no chaos fault`)
      if (burst && shed === 0) missing.push(`window ${window}: nothing shed in the burst`)
    }
    table.row([
      `${window}${burst ? ' (burst)' : ''}${window <= WARMUP_WINDOWS ? ' (warm-up)' : ''}`,
      `${Math.round(steady + sideRate + (burst ? 2 * capacity * 2 / WINDOW_SECONDS : 0))} req/s`,
      `${work.p99Ms.toFixed(1)} ms`,
      `${Math.round(work.goodput)} req/s`,
      String(shed),
      String(hang.expected),
      String(chaos.expected),
      String(hello.ok + replays.ok + firstTimes.ok),
      String(odd),
      `${(measured.heapUsed / 1048576).toFixed(1)} MB`,
      String(measured.activeHandles),
      String(measured.errorLines),
    ])
  }
  table.note(`Before the first window, first-time POSTs filled the idempotency store to its bound (${storedKeys.toLocaleString('en-US')} keys, in ${fillSeconds.toFixed(0)} s over ${FILL_CONNECTIONS} connections, ${fillRefused} refused): from then on each new key evicts the oldest, as on a server that has run for a while, so the heap's growth toward that bound is not taken for a leak. Chaos does not watch the error budgets here (stopOnBudget: false): the bursts and /hang make every SLO burn by design, and chaos would otherwise stop itself in the first window.`)
  table.note('Unexpected answers are statuses other than 2xx, 503 (shed), the 504s of the route that never answers and the 500s chaos injects, plus connection errors; the idempotent POSTs may also meet 503 while the shedder refuses.')
  table.end()
  const spread = (values: number[]): number => Math.max(...values.map((value) => Math.abs(value / (values[0] ?? 1) - 1)))
  const heapSpread = spread(heaps)
  const handleSpread = spread(handles)
  const sorted = [...p99s].sort((a, b) => a - b)
  const medianP99 = sorted[Math.floor(sorted.length / 2)] ?? Number.NaN
  const worstP99 = sorted[sorted.length - 1] ?? Number.NaN
  report.target('soak: live heap flat after warm-up', '±10 % of the first window after warm-up', `±${(100 * heapSpread).toFixed(1)} %`, heapSpread <= 0.1)
  report.target('soak: active handles flat after warm-up', '±10 % of the first window after warm-up', `±${(100 * handleSpread).toFixed(1)} % (${Math.min(...handles)}–${Math.max(...handles)})`, handleSpread <= 0.1)
  report.target('soak: /work p99 stable (windows without a burst)', 'worst ≤ 2× the median', `median ${medianP99.toFixed(1)} ms, worst ${worstP99.toFixed(1)} ms`, worstP99 <= 2 * medianP99)
  report.target('soak: every event in every window after warm-up', '504s and chaos faults in each window, sheds in each burst', missing.length === 0 ? `all ${heaps.length} windows (${bursts} bursts)` : missing.join('; '), missing.length === 0)
  report.target('soak: no error logs and no unexpected answers', '0 and 0', `${errorLines} error lines, ${unexpected} unexpected answers`, errorLines === 0 && unexpected === 0)
} finally {
  for (const agent of Object.values(kept)) agent.destroy()
  await target.stop()
}
