// Preloaded into a target by allocations.ts: SIGUSR2 starts V8's sampling
// heap profiler, keeping the samples of objects the GC has since freed;
// the next SIGUSR2 stops it and prints the bytes sampled as one line,
// "allocated <bytes>", on stdout. With SITES=<n> in its environment, the n
// functions that allocated the most follow on stderr, as
// "<bytes> <function> <file>:<line>".
import { Session } from 'node:inspector/promises'

const session = new Session()
session.connect()
await session.post('HeapProfiler.enable')
let sampling = false
const sites = Number(process.env.SITES ?? 0)

function sum (node) {
  let bytes = node.selfSize
  for (const child of node.children) bytes += sum(child)
  return bytes
}

/** Bytes allocated by each function itself, over every call path. */
function bySite (node, totals = new Map()) {
  const { functionName, url, lineNumber } = node.callFrame
  const site = `${functionName || '(anonymous)'} ${url.replace(/^.*node_modules\//, '')}:${lineNumber + 1}`
  totals.set(site, (totals.get(site) ?? 0) + node.selfSize)
  for (const child of node.children) bySite(child, totals)
  return totals
}

function report (profile) {
  if (sites > 0) {
    const top = [...bySite(profile.head)].sort((a, b) => b[1] - a[1]).slice(0, sites)
    process.stderr.write(top.map(([site, bytes]) => `${String(bytes).padStart(12)} ${site}\n`).join(''))
  }
  return `allocated ${sum(profile.head)}`
}

process.on('SIGUSR2', () => {
  sampling = !sampling
  const step = sampling
    ? session.post('HeapProfiler.startSampling', { samplingInterval: 1024, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true }).then(() => 'sampling')
    : session.post('HeapProfiler.stopSampling').then(({ profile }) => report(profile))
  step.then((line) => { process.stdout.write(`${line}\n`) }, (error) => { process.stderr.write(`${String(error)}\n`) })
})
