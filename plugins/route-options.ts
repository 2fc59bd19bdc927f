import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction, RouteOptions } from 'fastify'

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

/**
 * Recognises the HEAD routes Fastify adds for GET routes
 * (`exposeHeadRoutes`, on by default): a HEAD route at the URL of a GET
 * route that exposes one, registered before it. An application's own HEAD
 * route at such a URL is refused by Fastify as declared twice, so only the
 * added one can be. One recogniser per plugin, fed every route in order.
 */
export function addedHeadRoutes (app: FastifyInstance): (routeOptions: RouteOptions) => boolean {
  // Fastify keeps the option in initialConfig, though its type leaves it out.
  const exposedByDefault = (app.initialConfig as { exposeHeadRoutes?: boolean }).exposeHeadRoutes ?? true
  const getUrls = new Set<string>()
  return (routeOptions) => {
    const methods = Array.isArray(routeOptions.method) ? routeOptions.method : [routeOptions.method]
    if (methods.includes('GET')) {
      if (!methods.includes('HEAD') && (routeOptions.exposeHeadRoute ?? exposedByDefault)) getUrls.add(routeOptions.url)
      return false
    }
    return methods.length === 1 && methods[0] === 'HEAD' && getUrls.has(routeOptions.url)
  }
}

/**
 * A route that answers OPTIONS alone, such as the `OPTIONS *` route
 * @fastify/cors adds for preflights. Unless its config asks for them,
 * such a route gets no SLO, no shedding and no chaos, whatever the order
 * in which the plugins were registered (routes declared before this
 * library's plugins never get them): a preflight is the browser asking
 * permission, not the application's work, and a shed or faulted preflight is
 * an answer without CORS headers, which the browser reports as a CORS
 * error on the request the page meant to send.
 */
export function answersOnlyOptions (routeOptions: RouteOptions): boolean {
  const methods = Array.isArray(routeOptions.method) ? routeOptions.method : [routeOptions.method]
  return methods.length > 0 && methods.every((method) => method === 'OPTIONS')
}

/** The options @fastify/websocket reads on a route, absent from Fastify's own types. */
interface WebsocketRouteOptions {
  websocket?: unknown
  wsHandler?: unknown
}

/**
 * A route @fastify/websocket serves websockets on: declared with
 * `websocket: true` (its handler is the websocket's, and a plain request
 * gets a 404), or with a `wsHandler` beside its HTTP handler (a plain
 * request gets the handler). Read in onRoute, where both options are still
 * there whichever plugin's onRoute hook runs first. Its HEAD route is not
 * one: a HEAD request cannot be upgraded, and @fastify/websocket answers it
 * with the handler or a 404.
 */
export function servesWebsockets (routeOptions: RouteOptions): boolean {
  const { websocket, wsHandler } = routeOptions as RouteOptions & WebsocketRouteOptions
  if (websocket !== true && typeof wsHandler !== 'function') return false
  const methods = Array.isArray(routeOptions.method) ? routeOptions.method : [routeOptions.method]
  return !methods.every((method) => method === 'HEAD')
}

/**
 * Whether the route's handler is its websocket handler, called by
 * @fastify/websocket with the socket and the request rather than with the
 * request and the reply: on a `websocket: true` route whose onRoute hooks
 * run before @fastify/websocket's. A capability that wraps handlers leaves
 * such a route's alone.
 */
export function handlerMayBeWebsocket (routeOptions: RouteOptions): boolean {
  return (routeOptions as RouteOptions & WebsocketRouteOptions).websocket === true
}

/**
 * Whether @fastify/websocket takes this request over as a websocket: its
 * `request.ws`, set by its own context-level onRequest hook. Fastify runs
 * every context-level hook before the route-level ones, so a route-level
 * hook reads it set whichever plugin was registered first.
 */
export function isWebsocketUpgrade (request: FastifyRequest): boolean {
  return (request as FastifyRequest & { ws?: unknown }).ws === true
}

type RequestHook = (this: FastifyInstance, request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => void

/**
 * A route-level `onRequest` or `preHandler` hook for a route that serves
 * websockets, run for its plain HTTP requests only. An upgrade becomes a
 * websocket, not a response being written: a deadline would cut it, a
 * shedding slot would be held for its whole life, a fault would break a
 * handshake no SLO counts. Unless the route's config asks for the
 * capability, its upgrades pass the hook by, as a route that answers
 * OPTIONS alone does.
 */
export function skippingUpgrades (hook: RequestHook): RequestHook {
  return function unlessUpgrade (this: FastifyInstance, request, reply, done) {
    if (isWebsocketUpgrade(request)) {
      done()
      return
    }
    hook.call(this, request, reply, done)
  }
}
