// fastify-resilience/status-page: a live page of every capability's state.
// Serves uPlot's files from the installed uplot package.
export { statusPage } from '../status-page.js'
export type { StatusPageOptions, StatusSnapshot } from '../status-page.js'
