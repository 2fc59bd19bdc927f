// fastify-resilience/chaos: fault injection hooks.
export { chaos } from '../chaos.js'
export type { Chaos, DependencyFault, ChaosOptions, ChaosStats, ExperimentSpec, RouteChaosConfig } from '../chaos.js'
export type { FaultSpec, FaultType, FaultMatch } from '../../src/chaos/index.js'
export { signFault, FAULT_TYPES, DEFAULT_EXCLUDED_ROUTES } from '../../src/chaos/index.js'
export { wallClock } from '../../src/clock.js'
export type { Clock } from '../../src/clock.js'
