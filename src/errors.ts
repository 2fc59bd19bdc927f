// The named import, not the default one: declarations then name the classes'
// type as import("@fastify/error").FastifyErrorConstructor, which resolves
// under bundler resolution as under node16 (the default import is only a
// value there, so a `createError.` namespace would not).
import { createError } from '@fastify/error'

/*
 * Every error this library throws, in one table. Configuration mistakes are
 * TypeErrors raised at registration; their messages say what was expected
 * and what was received. `instanceof` checks keep working across two
 * installed copies because @fastify/error brands classes with Symbol.for.
 */

/** An option has the wrong type or shape (at registration). */
export const FRS_ERR_OPTION_INVALID = createError<'FRS_ERR_OPTION_INVALID', [string, string, string]>(
  'FRS_ERR_OPTION_INVALID',
  "fastify-resilience: option '%s' expects %s, instead got %s",
  500,
  TypeError
)

/** An option name is not known (at registration). */
export const FRS_ERR_OPTION_UNKNOWN = createError<'FRS_ERR_OPTION_UNKNOWN', [string, string, string]>(
  'FRS_ERR_OPTION_UNKNOWN',
  "fastify-resilience: unknown option '%s' in %s; expected one of: %s",
  500,
  TypeError
)

/** A problem type has a bad slug, title or status, or conflicts with a registered one. */
export const FRS_ERR_PROBLEM_TYPE_INVALID = createError<'FRS_ERR_PROBLEM_TYPE_INVALID', [string, string]>(
  'FRS_ERR_PROBLEM_TYPE_INVALID',
  "fastify-resilience: problem type '%s' cannot be registered: %s",
  500,
  TypeError
)

/** A problem names a type that is neither registered nor an absolute URI (answered as a 500 problem). */
export const FRS_ERR_PROBLEM_TYPE_UNKNOWN = createError<'FRS_ERR_PROBLEM_TYPE_UNKNOWN', [string]>(
  'FRS_ERR_PROBLEM_TYPE_UNKNOWN',
  'fastify-resilience: problem type %s is neither a registered slug nor an absolute URI; register it with app.problemTypes.register(slug, { title, status }) or pass an absolute URI',
  500,
  TypeError
)

/** A problem status is not an integer from 400 to 599 (answered as a 500 problem). */
export const FRS_ERR_PROBLEM_STATUS_INVALID = createError<'FRS_ERR_PROBLEM_STATUS_INVALID', [string]>(
  'FRS_ERR_PROBLEM_STATUS_INVALID',
  'fastify-resilience: a problem status expects an integer from 400 to 599, instead got %s',
  500,
  TypeError
)

/** A route's `config.<capability>` is invalid; the message names the route (at startup). */
export const FRS_ERR_ROUTE_CONFIG_INVALID = createError<'FRS_ERR_ROUTE_CONFIG_INVALID', [string, string, string, string]>(
  'FRS_ERR_ROUTE_CONFIG_INVALID',
  'fastify-resilience: route %s: config.%s expects %s, instead got %s',
  500,
  TypeError
)

/** A capability plugin is registered a second time in a context that already has it (at registration). */
export const FRS_ERR_PLUGIN_REGISTERED_TWICE = createError<'FRS_ERR_PLUGIN_REGISTERED_TWICE', [string]>(
  'FRS_ERR_PLUGIN_REGISTERED_TWICE',
  'fastify-resilience: %s is already registered in this context or one it inherits from; register the umbrella, or each capability plugin, once',
  500,
  TypeError
)

/** The reason a deadline's signal (the request's, or a sub-budget's) aborts with when its time is up. */
export const FRS_ERR_DEADLINE_EXCEEDED = createError<'FRS_ERR_DEADLINE_EXCEEDED', [number]>(
  'FRS_ERR_DEADLINE_EXCEEDED',
  'fastify-resilience: a deadline of %d ms was exceeded',
  504
)

/** The reason a request's deadline signal aborts with when the client goes away. */
export const FRS_ERR_CLIENT_CLOSED = createError<'FRS_ERR_CLIENT_CLOSED', []>(
  'FRS_ERR_CLIENT_CLOSED',
  'fastify-resilience: the client closed the connection before the response was sent',
  499
)

/** `deadline.child(maxMs)` was given something that is not a length of time (a programming error, answered as a 500 problem). */
export const FRS_ERR_DEADLINE_CHILD_INVALID = createError<'FRS_ERR_DEADLINE_CHILD_INVALID', [string]>(
  'FRS_ERR_DEADLINE_CHILD_INVALID',
  'fastify-resilience: deadline.child(maxMs) expects a number of milliseconds, 0 or more (Infinity for all the time the deadline has left), instead got %s',
  500,
  TypeError
)

/** The in-memory idempotency store has no room for another claim in flight (a 503 problem). */
export const FRS_ERR_IDEMPOTENCY_STORE_FULL = createError<'FRS_ERR_IDEMPOTENCY_STORE_FULL', [number]>(
  'FRS_ERR_IDEMPOTENCY_STORE_FULL',
  'fastify-resilience: the in-memory idempotency store holds %d requests in flight and has no room for another',
  503
)

/** The idempotency store answered something it should not (a 503 problem). */
export const FRS_ERR_IDEMPOTENCY_STORE_REPLY = createError<'FRS_ERR_IDEMPOTENCY_STORE_REPLY', [string]>(
  'FRS_ERR_IDEMPOTENCY_STORE_REPLY',
  'fastify-resilience: the idempotency store answered something unexpected: %s',
  503
)

/** The idempotency store did not answer within `storeTimeoutMs` (a 503 problem). */
export const FRS_ERR_IDEMPOTENCY_STORE_TIMEOUT = createError<'FRS_ERR_IDEMPOTENCY_STORE_TIMEOUT', [number]>(
  'FRS_ERR_IDEMPOTENCY_STORE_TIMEOUT',
  'fastify-resilience: the idempotency store did not answer within %d ms',
  503
)

/** A request body that contains itself (only a custom parser can build one) has no fingerprint. */
export const FRS_ERR_FINGERPRINT_CYCLE = createError<'FRS_ERR_FINGERPRINT_CYCLE', []>(
  'FRS_ERR_FINGERPRINT_CYCLE',
  'fastify-resilience: the request body contains itself, so it has no canonical JSON fingerprint',
  500
)

/** `scope(request)` yielded no non-empty string (a 500 problem). */
export const FRS_ERR_IDEMPOTENCY_SCOPE_INVALID = createError<'FRS_ERR_IDEMPOTENCY_SCOPE_INVALID', [string]>(
  'FRS_ERR_IDEMPOTENCY_SCOPE_INVALID',
  'fastify-resilience: idempotency scope(request) expects a non-empty string, instead got %s',
  500
)

/** `request.dependency(name)` named a dependency that was never declared. */
export const FRS_ERR_DEPENDENCY_UNKNOWN = createError<'FRS_ERR_DEPENDENCY_UNKNOWN', [string, string]>(
  'FRS_ERR_DEPENDENCY_UNKNOWN',
  "fastify-resilience: unknown dependency '%s'; the declared dependencies are: %s",
  500,
  TypeError
)

/** `fetch` was given a path or URL that leaves the dependency's baseUrl: nothing was sent. */
export const FRS_ERR_DEPENDENCY_URL_OUTSIDE = createError<'FRS_ERR_DEPENDENCY_URL_OUTSIDE', [string, string, string]>(
  'FRS_ERR_DEPENDENCY_URL_OUTSIDE',
  "fastify-resilience: dependency '%s' was asked for %s, which is outside its baseUrl %s; nothing was sent",
  500,
  TypeError
)

/** The dependency's breaker is open or its bulkhead is full: the call was not made. */
export const FRS_ERR_DEPENDENCY_UNAVAILABLE = createError<'FRS_ERR_DEPENDENCY_UNAVAILABLE', [string, string]>(
  'FRS_ERR_DEPENDENCY_UNAVAILABLE',
  "fastify-resilience: dependency '%s' is unavailable: %s",
  503
)

/** The dependency did not answer within its attempt timeout. */
export const FRS_ERR_DEPENDENCY_TIMEOUT = createError<'FRS_ERR_DEPENDENCY_TIMEOUT', [string, number]>(
  'FRS_ERR_DEPENDENCY_TIMEOUT',
  "fastify-resilience: dependency '%s' did not answer within %d ms",
  504
)

/** The dependency answered with a failure or the connection failed. */
export const FRS_ERR_DEPENDENCY_FAILED = createError<'FRS_ERR_DEPENDENCY_FAILED', [string, string]>(
  'FRS_ERR_DEPENDENCY_FAILED',
  "fastify-resilience: dependency '%s' failed: %s",
  502
)
