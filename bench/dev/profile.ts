import { load, place, startTarget } from '../harness.js'

// Development aid: runs a target under --cpu-prof while loading a path.
// Usage: tsx bench/dev/profile.ts <variant> <path> <dir> [settings…]
place('pinned')
const [variant = 'umbrella', path = '/hello', dir = 'profiles', ...settings] = process.argv.slice(2)
const target = await startTarget(variant, settings, ['--cpu-prof', `--cpu-prof-dir=${dir}`])
await load(`http://127.0.0.1:${target.port}${path}`, 8)
await target.stop()
