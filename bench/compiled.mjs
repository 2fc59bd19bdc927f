// Benchmarks measure the library as users run it: the JavaScript `npm run
// build` compiles into dist/, not the TypeScript sources through tsx, whose
// transform wraps every function a closure makes in a naming helper (a
// cost per closure, per request, that no user pays). Loaded with
// `--import` after tsx, this hook sends every import of a checkout's
// src/ and plugins/ to its compiled twin, and refuses a twin older than
// its source, so a benchmark never measures stale code.
import { existsSync, statSync } from 'node:fs'
import { register } from 'node:module'
import { fileURLToPath } from 'node:url'
import { isMainThread } from 'node:worker_threads'

const SOURCE = /^(.*\/)(src|plugins)\/(.*)\.ts$/
const checkouts = new Map()

/** Whether `root` is a checkout of this library (another one too: bench/dev/versions.ts compares two). */
function isCheckout (root) {
  if (!checkouts.has(root)) checkouts.set(root, existsSync(fileURLToPath(`${root}tsconfig.build.json`)))
  return checkouts.get(root)
}

/** The compiled twin of a source module's URL, or undefined for a module outside a checkout's src/ and plugins/. */
export function compiledUrl (url) {
  const match = SOURCE.exec(url)
  if (match === null || match[1].includes('/node_modules/') || !isCheckout(match[1])) return undefined
  return `${match[1]}dist/${match[2]}/${match[3]}.js`
}

export async function resolve (specifier, context, nextResolve) {
  const resolved = await nextResolve(specifier, context)
  const compiled = compiledUrl(resolved.url)
  if (compiled === undefined) return resolved
  const source = statSync(fileURLToPath(resolved.url))
  const twin = statSync(fileURLToPath(compiled), { throwIfNoEntry: false })
  if (twin === undefined || twin.mtimeMs < source.mtimeMs) {
    throw new Error(`${fileURLToPath(compiled)} is missing or older than its source: run npm run build before benchmarking`)
  }
  return { ...resolved, url: compiled, format: 'module' }
}

// The hooks run in a thread of their own, which loads this file again.
if (isMainThread) register(import.meta.url)
