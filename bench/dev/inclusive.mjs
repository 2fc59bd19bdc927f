// Inclusive time of frames matching a pattern (outermost match only), as a share of non-idle time.
import { readFileSync } from 'node:fs'
const profile = JSON.parse(readFileSync(process.argv[2], 'utf8'))
const byId = new Map(profile.nodes.map((n) => [n.id, n]))
const parent = new Map()
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
const selfTime = new Map()
for (let i = 0; i < profile.samples.length; i++) selfTime.set(profile.samples[i], (selfTime.get(profile.samples[i]) ?? 0) + (profile.timeDeltas[i] ?? 0))
const label = (n) => `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.replace(/.*node_modules\//, '').replace(/.*wt-hotpath\//, '')}`
let busy = 0
const inclusive = new Map()
for (const [id, t] of selfTime) {
  const n = byId.get(id)
  if (['(idle)', '(program)', '(garbage collector)'].includes(n.callFrame.functionName)) continue
  busy += t
  // outermost frame of ours on the stack
  let cur = id; let top
  while (cur !== undefined) { const node = byId.get(cur); if (/(plugins|src)\/[^/]+/.test(node.callFrame.url) && !/node_modules/.test(node.callFrame.url)) top = label(node); cur = parent.get(cur) }
  if (top) inclusive.set(top, (inclusive.get(top) ?? 0) + t)
}

for (const [k, t] of [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, 30)) { console.log(`${(100 * t / busy).toFixed(2).padStart(6)}% ${k}`) }
console.log('ours inclusive', (100 * [...inclusive.values()].reduce((a, b) => a + b, 0) / busy).toFixed(2) + '% of busy')
