import { readFileSync } from 'node:fs'
import { load, place, startTarget } from '../harness.js'

// Development aid: the server's CPU time per request (user + system, from
// /proc), which a busy machine blurs less than throughput. Targets are
// given as variant,setting,setting…; rounds alternate between them.
place('pinned')
function cpuMs (pid: number): number {
  const fields = (readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1] ?? '').split(' ')
  return (Number(fields[11]) + Number(fields[12])) * 10
}
const path = process.env.BENCH_PATH ?? '/hello'
const specs = process.argv.slice(2)
const targets = await Promise.all(specs.map(async (spec) => {
  const [variant = 'bare', ...settings] = spec.split(',')
  return await startTarget(variant, settings)
}))
const results = specs.map(() => [] as number[])
for (const t of targets) await load(`http://127.0.0.1:${t.port}${path}`, 2)
for (let round = 0; round < Number(process.env.ROUNDS ?? 4); round++) {
  for (const [i, t] of targets.entries()) {
    const before = cpuMs(t.pid)
    const m = await load(`http://127.0.0.1:${t.port}${path}`, 3)
    results[i]?.push((cpuMs(t.pid) - before) * 1000 / (m.requestsPerSecond * 3))
  }
}
for (const [i, spec] of specs.entries()) {
  const values = (results[i] ?? []).sort((a, b) => a - b)
  console.log(spec.padEnd(40), 'min', values[0]?.toFixed(1), 'µs  median', values[Math.floor(values.length / 2)]?.toFixed(1), 'µs')
}
for (const t of targets) await t.stop()
