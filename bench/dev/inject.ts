import { performance } from 'node:perf_hooks'
import { build, parseSettings } from '../targets.js'
import type { Variant } from '../targets.js'

// Development aid: µs per request through app.inject, targets alternating
// in one process. inject adds its own constant cost, so differences
// between targets are what this shows, not ratios.
const path = process.env.BENCH_PATH ?? '/hello'
const method = process.env.BENCH_METHOD ?? 'GET'
const N = Number(process.env.N ?? 20000)
const specs = process.argv.slice(2)
const apps = await Promise.all(specs.map(async (spec) => {
  const [variant = 'bare', ...settings] = spec.split(',')
  const app = await build(variant as Variant, parseSettings(settings))
  await app.ready()
  return app
}))
const results = specs.map(() => [] as number[])
let key = 0
const body = JSON.stringify({ sku: 7, quantity: 1 })
const headers = (): Record<string, string> => {
  if (method !== 'POST') return {}
  const idem = process.env.KEY === 'unique' ? `k-${++key}` : process.env.KEY
  return { 'content-type': 'application/json', ...(idem === undefined ? {} : { 'idempotency-key': idem }) }
}
for (let round = 0; round < Number(process.env.ROUNDS ?? 6); round++) {
  for (const [i, app] of apps.entries()) {
    const started = performance.now()
    for (let r = 0; r < N; r++) {
      const res = await app.inject({ method: method as 'GET', url: path, headers: headers(), ...(method === 'POST' ? { payload: body } : {}) })
      if (res.statusCode >= 300) throw new Error(`${specs[i]} answered ${res.statusCode}: ${res.body}`)
    }
    if (round > 0) results[i]?.push((performance.now() - started) * 1000 / N)
  }
}
for (const [i, spec] of specs.entries()) {
  const values = (results[i] ?? []).sort((a, b) => a - b)
  console.log(spec.padEnd(40), 'min', values[0]?.toFixed(2), 'µs  median', values[Math.floor(values.length / 2)]?.toFixed(2), 'µs')
}
for (const app of apps) await app.close()
