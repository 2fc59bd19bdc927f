// Self time by function of a .cpuprofile, top N.
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

// Paths are shown relative to the checkout this script is in.
const checkout = fileURLToPath(new URL('../../', import.meta.url))
const profile = JSON.parse(readFileSync(process.argv[2], 'utf8'))
const self = new Map()
const dt = new Map()
for (let i = 0; i < profile.samples.length; i++) dt.set(profile.samples[i], (dt.get(profile.samples[i]) ?? 0) + (profile.timeDeltas[i] ?? 0))
let total = 0
for (const node of profile.nodes) {
  const t = dt.get(node.id) ?? 0
  total += t
  const f = node.callFrame
  const key = `${f.functionName || '(anon)'} ${f.url.replace(/.*node_modules\//, '').replace(`file://${checkout}`, '')}:${f.lineNumber}`
  self.set(key, (self.get(key) ?? 0) + t)
}
const rows = [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(process.argv[3] ?? 40))
for (const [k, t] of rows) console.log(`${(100 * t / total).toFixed(2).padStart(6)}% ${k}`)
// Own code total
let ours = 0
for (const [k, t] of self) if (/(plugins|src)\//.test(k) && !/node_modules/.test(k)) ours += t
console.log('ours', (100 * ours / total).toFixed(2) + '%')
