import { runTour } from './tour.js'

// `npm run demo`: a scripted tour of the shop, printed step by step.
console.log('fastify-resilience demo: a shop API with a flaky payment provider')
const results = await runTour((line) => console.log(line))
const surprises = results.filter((result) => result.status !== result.expectedStatus)
for (const surprise of surprises) {
  console.error(`\nunexpected: "${surprise.title}" answered ${surprise.status}, expected ${surprise.expectedStatus}`)
}
console.log(surprises.length === 0 ? `\nAll ${results.length} steps answered as expected.` : '')
process.exitCode = surprises.length === 0 ? 0 : 1
