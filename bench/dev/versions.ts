import { COMPARISON_COLUMNS, compare, comparisonRow, place, postRequest } from '../harness.js'
import type { LoadRequest, Placement } from '../harness.js'

// Development aid: the same variant of two checkouts of the library in
// the same run, this one as the candidate and the other as the baseline.
// Usage: tsx bench/dev/versions.ts <other checkout's bench/serve.ts> <variant> [first|replay|hello] [pinned|unpinned]
// Both run their compiled library: npm run build in each checkout first.
const [serve, variant = 'umbrella', kind = 'hello', placement = 'pinned'] = process.argv.slice(2)
if (serve === undefined) throw new TypeError('versions.ts expects the path of the other checkout\'s bench/serve.ts')
place(placement as Placement)
const request: LoadRequest = kind === 'hello' ? { path: '/hello' } : postRequest(kind)
const result = await compare({ variant, settings: [], serve }, variant, request, 4, 3)
console.log(`| ${COMPARISON_COLUMNS.join(' | ')} |`)
console.log(`| ${comparisonRow(`${variant} ${kind}: this checkout against the other`, result).join(' | ')} |`)
