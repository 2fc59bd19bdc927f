import { runTour } from './tour.js'

// `npm run demo`: a scripted tour of the shop, printed step by step.
// `npm run demo -- --keep` (or DEMO_KEEP=1) keeps the shop running for a
// minute afterwards, to look at its status page.
const keep = process.argv.includes('--keep') || process.env.DEMO_KEEP === '1'
console.log('fastify-resilience demo: a shop API with a flaky payment provider')
const results = await runTour((line) => console.log(line), {
  statusPage: (url) => console.log(`Live status page (from this machine): ${url}${keep ? '' : ' (npm run demo -- --keep leaves it up for a minute)'}`),
  ...(keep ? { keepMs: 60_000 } : {}),
})
const surprises = results.filter((result) => result.status !== result.expectedStatus)
for (const surprise of surprises) {
  console.error(`\nunexpected: "${surprise.title}" answered ${surprise.status}, expected ${surprise.expectedStatus}`)
}
console.log(surprises.length === 0 ? `\nAll ${results.length} steps answered as expected.` : '')
process.exitCode = surprises.length === 0 ? 0 : 1
