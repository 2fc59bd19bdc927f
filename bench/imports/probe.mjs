// Imports one module specifier in this (fresh) process and prints, as JSON,
// the time the import took and every module it loaded: ES modules collected
// by a resolve hook (hooks run on their own thread, so URLs come back over a
// port), CommonJS ones (prom-client's files, say) read from require.cache.
import { createRequire, register } from 'node:module'
import { fileURLToPath } from 'node:url'
import { MessageChannel } from 'node:worker_threads'
import { performance } from 'node:perf_hooks'

const specifier = process.argv[2]
if (specifier === undefined) throw new TypeError('usage: node probe.mjs <specifier>')

const { port1, port2 } = new MessageChannel()
const loaded = new Set()
port1.on('message', (url) => { loaded.add(url) })
port1.unref()
register('./hooks.mjs', import.meta.url, { data: { port: port2 }, transferList: [port2] })

const started = performance.now()
await import(specifier)
const ms = performance.now() - started
// Let the last messages from the hooks thread arrive.
await new Promise((resolve) => setImmediate(resolve))

const files = new Set([...loaded].filter((url) => url.startsWith('file:')).map((url) => fileURLToPath(url)))
for (const file of Object.keys(createRequire(import.meta.url).cache)) files.add(file)
const packages = new Set()
for (const file of files) {
  const match = /[/\\]node_modules[/\\]((?:@[^/\\]+[/\\])?[^/\\]+)[/\\]/.exec(file)
  if (match !== null && match[1] !== 'fastify-resilience') packages.add(match[1].replace('\\', '/'))
}
console.log(JSON.stringify({ specifier, ms, modules: files.size, packages: [...packages].sort() }))
