import autocannon from 'autocannon'
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { postRequest, requestOptions, startTarget } from '../harness.js'
import type { LoadRequest } from '../harness.js'

/*
 * Development aid: bytes a target's server allocates per request, as V8
 * counts them (--trace-gc-nvp gives what was allocated since the previous
 * GC). Unlike CPU time, allocation does not change with the machine's
 * speed or its other processes, so two versions of the code compare on a
 * busy machine; and it shows the work a request leaves to the GC, which
 * instructions.ts sets apart. The count runs from GC to GC, so its
 * edges are off by up to a GC's worth of requests: the figure carries the
 * number of GCs it spans, which should be dozens.
 *
 * Targets are given as for instructions.ts (variant,setting,…, or
 * kind:variant for a POST); OUTBOUND=1 measures the targets of
 * bench:dependencies (plain, alone, policies; path /cost) against a
 * downstream it starts. WARM requests (default 10000) run first, then
 * COUNT are counted (default 100000, or 20000 outbound, whose requests
 * allocate ten times as much), over CONNECTIONS (default 50).
 * Run npm run build first: the targets run the compiled library.
 */
const outbound = process.env.OUTBOUND === '1'
const SERVE = fileURLToPath(new URL(outbound ? '../serve-dependencies.ts' : '../serve.ts', import.meta.url))
const COMPILED = new URL('../compiled.mjs', import.meta.url).href
const path = process.env.BENCH_PATH ?? (outbound ? '/cost' : '/hello')
const warm = Number(process.env.WARM ?? 10_000)
const count = Number(process.env.COUNT ?? (outbound ? 20_000 : 100_000))
const connections = Number(process.env.CONNECTIONS ?? 50)

/** Starts the target with GC tracing; its port is the first line that is a number, the rest are GC lines. */
async function start (variant: string, settings: string[], onGc: (allocated: number) => void): Promise<{ child: ChildProcess, port: number }> {
  const child = spawn(process.execPath, ['--trace-gc-nvp', '--import', 'tsx', '--import', COMPILED, SERVE, variant, ...settings], { stdio: ['ignore', 'pipe', 'inherit'] })
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream })
  return await new Promise((resolve, reject) => {
    child.once('exit', (code) => { reject(new Error(`target ${variant} exited (${String(code)}) before it listened`)) })
    lines.on('line', (line) => {
      if (/^\d+$/.test(line.trim())) resolve({ child, port: Number(line) })
      const allocated = /\ballocated=(\d+)/.exec(line)?.[1]
      if (allocated !== undefined) onGc(Number(allocated))
    })
  })
}

async function measure (spec: string, downstreamUrl: string | undefined): Promise<string> {
  const [kind, target] = spec.includes(':') ? spec.split(':', 2) : [undefined, spec]
  const request: LoadRequest = kind === undefined ? { path } : postRequest(kind, process.env.BENCH_PATH)
  const [variant = 'bare', ...given] = (target ?? '').split(',')
  const settings = downstreamUrl === undefined ? given : [downstreamUrl, ...given]
  let counting = false
  let allocated = 0
  let collections = 0
  const { child, port } = await start(variant, settings, (bytes) => {
    if (!counting) return
    allocated += bytes
    collections++
  })
  try {
    const options = { url: `http://127.0.0.1:${port}${request.path}`, connections, ...requestOptions(request) }
    await autocannon({ ...options, amount: warm })
    counting = true
    const { non2xx } = await autocannon({ ...options, amount: count })
    counting = false
    return `${spec.padEnd(34)} ${(allocated / count).toFixed(0).padStart(8)} bytes/request over ${collections} GCs${non2xx > 0 ? ` (${non2xx} non-2xx)` : ''}`
  } finally {
    child.kill('SIGKILL')
  }
}

const downstream = outbound ? await startTarget('dependency', [], [], SERVE) : undefined
try {
  for (const spec of process.argv.slice(2)) console.log(await measure(spec, downstream === undefined ? undefined : `http://127.0.0.1:${downstream.port}`))
} finally {
  await downstream?.stop()
}
