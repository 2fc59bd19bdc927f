// Preloaded into a target by allocations.ts: SIGUSR2 starts V8's sampling
// heap profiler, keeping the samples of objects the GC has since freed;
// the next SIGUSR2 stops it and prints the bytes sampled as one line,
// "allocated <bytes>", on stdout.
import { Session } from 'node:inspector/promises'

const session = new Session()
session.connect()
await session.post('HeapProfiler.enable')
let sampling = false

function sum (node) {
  let bytes = node.selfSize
  for (const child of node.children) bytes += sum(child)
  return bytes
}

process.on('SIGUSR2', () => {
  sampling = !sampling
  const step = sampling
    ? session.post('HeapProfiler.startSampling', { samplingInterval: 1024, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true }).then(() => 'sampling')
    : session.post('HeapProfiler.stopSampling').then(({ profile }) => `allocated ${sum(profile.head)}`)
  step.then((line) => { process.stdout.write(`${line}\n`) }, (error) => { process.stderr.write(`${String(error)}\n`) })
})
