import { VARIANTS, build, parseSettings } from './targets.js'
import type { Variant } from './targets.js'

/*
 * A benchmark target, run in its own process so that the load generator
 * does not share its event loop. Usage: serve.ts <variant> [name=value…]
 * (see bench/targets.ts); prints the port it listens on.
 */
const variant = process.argv[2] as Variant
if (!VARIANTS.includes(variant)) throw new TypeError(`serve.ts expects one of ${VARIANTS.join(', ')}, instead got ${String(variant)}`)
const app = await build(variant, parseSettings(process.argv.slice(3)))
await app.listen({ port: 0, host: '127.0.0.1' })
const address = app.server.address()
process.stdout.write(`${typeof address === 'object' && address !== null ? address.port : ''}\n`)
process.once('SIGTERM', () => { app.close().then(() => process.exit(0), () => process.exit(1)) })
