import autocannon from 'autocannon'
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { requestOptions } from '../harness.js'
import { measureEach, targetSpec } from './target-spec.js'

/*
 * Development aid: bytes a target's server allocates per request, as
 * V8's sampling heap profiler counts them (a sample every kilobyte on
 * average, freed objects included). Unlike CPU time, allocation does not
 * change with the machine's speed or its other processes, so two
 * versions of the code compare on a busy machine; and it shows the work a
 * request leaves to the GC, which instructions.ts sets apart.
 *
 * Targets are given as for instructions.ts (variant,setting,…, or
 * kind:variant for a POST); OUTBOUND=1 measures the targets of
 * bench:dependencies (plain, alone, policies; path /cost) against a
 * downstream it starts. WARM requests (default 10000) run first, then
 * COUNT (default 20000) are counted, over CONNECTIONS (default 50).
 * Run npm run build first: the targets run the compiled library.
 */
const outbound = process.env.OUTBOUND === '1'
const SERVE = fileURLToPath(new URL(outbound ? '../serve-dependencies.ts' : '../serve.ts', import.meta.url))
const COMPILED = new URL('../compiled.mjs', import.meta.url).href
const SAMPLER = new URL('allocation-sampler.mjs', import.meta.url).href
const path = process.env.BENCH_PATH ?? (outbound ? '/cost' : '/hello')
const warm = Number(process.env.WARM ?? 10_000)
const count = Number(process.env.COUNT ?? 20_000)
const connections = Number(process.env.CONNECTIONS ?? 50)

/** A target with the sampler preloaded, and the lines it prints after its port. */
async function start (variant: string, settings: string[]): Promise<{ child: ChildProcess, port: number, nextLine: () => Promise<string> }> {
  const child = spawn(process.execPath, ['--import', SAMPLER, '--import', 'tsx', '--import', COMPILED, SERVE, variant, ...settings], { stdio: ['ignore', 'pipe', 'inherit'] })
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream })[Symbol.asyncIterator]()
  const nextLine = async (): Promise<string> => {
    const { value, done } = await lines.next()
    if (done === true) throw new Error(`target ${variant} ended`)
    return value
  }
  return { child, port: Number(await nextLine()), nextLine }
}

async function measure (spec: string, downstream: string[]): Promise<string> {
  const { variant, settings: given, request } = targetSpec(spec, path)
  const settings = [...downstream, ...given]
  const { child, port, nextLine } = await start(variant, settings)
  try {
    const options = { url: `http://127.0.0.1:${port}${request.path}`, connections, ...requestOptions(request) }
    await autocannon({ ...options, amount: warm })
    child.kill('SIGUSR2')
    await nextLine()
    const { non2xx } = await autocannon({ ...options, amount: count })
    child.kill('SIGUSR2')
    const allocated = Number((await nextLine()).split(' ')[1])
    return `${spec.padEnd(34)} ${(allocated / count).toFixed(0).padStart(8)} bytes/request${non2xx > 0 ? ` (${non2xx} non-2xx)` : ''}`
  } finally {
    child.kill('SIGKILL')
  }
}

await measureEach(SERVE, outbound, measure)
