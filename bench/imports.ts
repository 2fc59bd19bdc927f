// What importing each entry point of the built package costs: modules and
// third-party packages loaded, and the import's duration, each entry in
// fresh processes (median of RUNS). Run `npm run build` first.
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const RUNS = 7
const PROBE = fileURLToPath(new URL('./imports/probe.mjs', import.meta.url))
const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { name: string, exports: Record<string, unknown> }

interface Probe { specifier: string, ms: number, modules: number, packages: string[] }

function probe (specifier: string): Probe {
  return JSON.parse(execFileSync(process.execPath, [PROBE, specifier], { encoding: 'utf8' })) as Probe
}

function median (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN
}

const specifiers = Object.keys(manifest.exports)
  .filter((key) => key !== './package.json')
  .map((key) => key === '.' ? manifest.name : `${manifest.name}/${key.slice(2)}`)

console.log('| import | modules | third-party packages | import time (median of %d) |', RUNS)
console.log('| --- | ---: | --- | ---: |')
for (const specifier of specifiers) {
  const runs = Array.from({ length: RUNS }, () => probe(specifier))
  const first = runs[0]
  if (first === undefined) continue
  console.log(`| \`${specifier}\` | ${first.modules} | ${first.packages.join(', ')} | ${median(runs.map((run) => run.ms)).toFixed(0)} ms |`)
}
