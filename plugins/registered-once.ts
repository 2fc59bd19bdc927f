import type { FastifyInstance } from 'fastify'
import { FRS_ERR_PLUGIN_REGISTERED_TWICE } from '../src/errors.js'

/*
 * A capability registered twice in one context (the umbrella twice, or the
 * umbrella and one of its capabilities again) would hook every request
 * twice; where it decorates, Fastify refuses the second decorator with a
 * message that does not say why. Each capability plugin that hooks
 * requests or decorates calls registerOnce first, so the mistake is named
 * at startup. The status page does neither: it adds routes under its own
 * path, and may be mounted twice (an admin copy under a prefix).
 */

/** The contexts each plugin was registered in. */
const registeredIn = new Map<string, WeakSet<object>>()

/**
 * Records that `plugin` is registered in `app`.
 * @throws FRS_ERR_PLUGIN_REGISTERED_TWICE if `app`, or a context it inherits from, has it already
 */
export function registerOnce (app: FastifyInstance, plugin: string): void {
  let contexts = registeredIn.get(plugin)
  if (contexts === undefined) {
    contexts = new WeakSet()
    registeredIn.set(plugin, contexts)
  }
  // Fastify builds a child context with Object.create(parent): a plugin of a
  // parent is the child's too.
  for (let context: object | null = app; context !== null; context = Object.getPrototypeOf(context) as object | null) {
    if (contexts.has(context)) throw new FRS_ERR_PLUGIN_REGISTERED_TWICE(plugin)
  }
  contexts.add(app)
}
