import { readFileSync, rmSync } from 'node:fs'

/*
 * Names the JavaScript functions in a callgrind dump. Callgrind sees V8's
 * generated code as bare addresses; node started with --perf-basic-prof
 * writes where each function's code lies to /tmp/perf-<pid>.map (V8's
 * fixed location), one "start size name" line per piece of code, the
 * name prefixed with its tier: * optimised (TurboFan), ^ baseline
 * (Sparkplug), ~ interpreted. A function seen in ^ or ~ on the hot path
 * was deoptimised during the count, or never optimised. The file is a log:
 * code that the GC freed leaves its line, and new code may later take its
 * addresses, so for an address the last line that covers it names it.
 */

interface CodeRange {
  start: number
  end: number
  name: string
  /** Its line in the file: a later line covering the same address replaces it. */
  order: number
}

/** Longer than any one function's code, so that a search for the ranges covering an address can stop. */
const LONGEST_CODE = 1 << 20

/** Where node process `pid`, run with --perf-basic-prof, writes the names of the code it generates. */
export function perfMapOf (pid: number): string {
  return `/tmp/perf-${pid}.map`
}

/** The code ranges node process `pid` wrote, sorted by address. */
export function readPerfMap (pid: number): CodeRange[] {
  const ranges: CodeRange[] = []
  for (const line of readFileSync(perfMapOf(pid), 'utf8').split('\n')) {
    const match = /^([0-9a-f]+) ([0-9a-f]+) (.*)$/.exec(line)
    if (match === null) continue
    const start = Number.parseInt(match[1] ?? '', 16)
    ranges.push({ start, end: start + Number.parseInt(match[2] ?? '', 16), name: match[3] ?? '', order: ranges.length })
  }
  return ranges.sort((a, b) => a.start - b.start)
}

/** Removes the map of node process `pid`, if it wrote one. */
export function removePerfMap (pid: number): void {
  rmSync(perfMapOf(pid), { force: true })
}

function nameAt (ranges: readonly CodeRange[], address: number): string | undefined {
  // The last range starting at or before the address, then back from there.
  let low = 0
  let high = ranges.length - 1
  while (low <= high) {
    const middle = (low + high) >> 1
    if ((ranges[middle] as CodeRange).start <= address) low = middle + 1
    else high = middle - 1
  }
  let latest: CodeRange | undefined
  for (let i = high; i >= 0; i--) {
    const range = ranges[i] as CodeRange
    if (range.start < address - LONGEST_CODE) break
    if (address < range.end && (latest === undefined || range.order > latest.order)) latest = range
  }
  return latest?.name
}

/** A function of `callgrind_annotate --inclusive=no` output and the instructions it ran itself. */
export interface FunctionCost {
  name: string
  cost: number
}

/**
 * The `top` generated-code functions by their own instructions per
 * request, one line each. Callgrind names generated code `???:0x<address>`.
 */
export function costliestFunctions (costs: readonly FunctionCost[], ranges: readonly CodeRange[], requests: number, top: number, root: string): string[] {
  const named = new Map<string, number>()
  for (const { name, cost } of costs) {
    const address = /^\?\?\?:0x([0-9a-f]+) /.exec(name)?.[1]
    if (address === undefined) continue
    const code = nameAt(ranges, Number.parseInt(address, 16)) ?? 'unnamed generated code'
    named.set(code, (named.get(code) ?? 0) + cost)
  }
  return [...named]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([name, cost]) => `${(cost / requests).toFixed(0).padStart(8)}  ${name.replaceAll(root, '').replaceAll('file://', '')}`)
}
