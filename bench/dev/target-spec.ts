import { postRequest, spreadOverRoutes, startTarget } from '../harness.js'
import type { LoadRequest } from '../harness.js'

/** A target as the dev aids name it: `[kind:]variant[,setting…]`. */
export interface TargetSpec {
  variant: string
  settings: string[]
  /** A POST of `kind` (plain, first or replay) to BENCH_PATH, or a GET of the aid's path (of every route, in turn, for a target with routes=N). */
  request: LoadRequest
}

/** Reads a spec; `post` is the kind of POST when the spec names none. */
export function targetSpec (spec: string, path: string, post?: string): TargetSpec {
  const [kind, target] = spec.includes(':') ? spec.split(':', 2) : [post, spec]
  const [variant = 'bare', ...settings] = (target ?? '').split(',')
  if (kind !== undefined) return { variant, settings, request: postRequest(kind, process.env.BENCH_PATH) }
  // A target with routes=N is loaded over all of them, as bench:scale loads it, unless BENCH_PATH names one.
  const routes = Number(settings.find((setting) => setting.startsWith('routes='))?.slice('routes='.length) ?? 0)
  if (routes > 0 && process.env.BENCH_PATH === undefined) return { variant, settings, request: spreadOverRoutes(routes) }
  return { variant, settings, request: { path } }
}

/**
 * Prints `measure`'s line for each spec on the command line; outbound,
 * against a downstream of `serve` started for them all, whose URL comes
 * first among each target's settings.
 */
export async function measureEach (serve: string, outbound: boolean, measure: (spec: string, settings: string[]) => Promise<string>): Promise<void> {
  const downstream = outbound ? await startTarget('dependency', [], [], serve) : undefined
  try {
    for (const spec of process.argv.slice(2)) console.log(await measure(spec, downstream === undefined ? [] : [`http://127.0.0.1:${downstream.port}`]))
  } finally {
    await downstream?.stop()
  }
}
