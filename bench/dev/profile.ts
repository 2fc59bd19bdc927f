import { load, place, postRequest, startTarget } from '../harness.js'

// Development aid: runs a target under --cpu-prof while loading a path.
// Usage: tsx bench/dev/profile.ts <variant> <path> <dir> [settings…];
// BENCH_POST=first|replay sends idempotent POSTs instead of GETs.
place('pinned')
const [variant = 'umbrella', path = '/hello', dir = 'profiles', ...settings] = process.argv.slice(2)
const target = await startTarget(variant, settings, ['--cpu-prof', `--cpu-prof-dir=${dir}`])
const post = process.env.BENCH_POST
const request = post === undefined ? { path } : postRequest(post, path)
await load(`http://127.0.0.1:${target.port}${path}`, 8, request)
await target.stop()
