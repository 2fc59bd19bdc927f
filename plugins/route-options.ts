import type { RouteOptions } from 'fastify'

type HookName = 'onRequest' | 'preHandler' | 'onSend'

/**
 * A route config that must be an object. In a route's options Fastify
 * infers the config's type from the value written; for a config whose
 * members are all optional, that let `true` or a number through.
 */
export type RouteConfigObject<Config> = Config & object

/** Adds a route-level hook after the ones the route declared itself. */
export function appendRouteHook<Hook> (routeOptions: RouteOptions, name: HookName, hook: Hook): void {
  const existing = routeOptions[name] as Hook | Hook[] | undefined
  const hooks = existing === undefined ? [] : Array.isArray(existing) ? existing : [existing]
  ;(routeOptions as unknown as Record<HookName, Hook[]>)[name] = [...hooks, hook]
}

/** "GET /orders/:id", for messages that must name a route. */
export function routeLabel (routeOptions: RouteOptions): string {
  const method = Array.isArray(routeOptions.method) ? routeOptions.method.join(',') : routeOptions.method
  return `${method} ${routeOptions.url}`
}
