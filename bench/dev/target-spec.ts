import { postRequest, startTarget } from '../harness.js'
import type { LoadRequest } from '../harness.js'

/** A target as the dev aids name it: `[kind:]variant[,setting…]`. */
export interface TargetSpec {
  variant: string
  settings: string[]
  /** A POST of `kind` (plain, first or replay) to BENCH_PATH, or a GET of the aid's path. */
  request: LoadRequest
}

/** Reads a spec; `post` is the kind of POST when the spec names none. */
export function targetSpec (spec: string, path: string, post?: string): TargetSpec {
  const [kind, target] = spec.includes(':') ? spec.split(':', 2) : [post, spec]
  const [variant = 'bare', ...settings] = (target ?? '').split(',')
  return { variant, settings, request: kind === undefined ? { path } : postRequest(kind, process.env.BENCH_PATH) }
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
