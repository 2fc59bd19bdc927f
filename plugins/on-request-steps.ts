import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction, RouteOptions } from 'fastify'

/*
 * The capabilities' onRequest work on a route, run as steps of one hook.
 * Each hook costs every request a step of Fastify's hook runner (a bound
 * call, a check of reply.sent, a look for a returned promise), some 150
 * instructions: the umbrella's deadline, admission and chaos, appended
 * one after the other, run as one hook instead of three. A step that
 * follows a hook of someone else's starts a hook of its own, so the order
 * of every hook on the route stays the one in which they were added.
 */

/** The step is done: the request goes on to the next step. */
export const GO_ON = 0
/** The step answered the request (or left it to be answered): no step or hook after it runs. */
export const STOPPED = 1
/** The request goes on later, when the step calls `resume`; never before the step has returned. */
export const LATER = 2

export type StepOutcome = typeof GO_ON | typeof STOPPED | typeof LATER

/** Goes on with the steps after the one that returned {@link LATER}. */
export type Resume = (request: FastifyRequest, reply: FastifyReply) => void

/** A capability's onRequest work on one route. */
export type OnRequestStep = (request: FastifyRequest, reply: FastifyReply, resume: Resume) => StepOutcome

type Hook = (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => void

/** Where a request that went on later stands: Fastify's callback and the next step to run. */
interface Waiting {
  done: HookHandlerDoneFunction
  next: number
}

/** The steps of one hook, run in order. */
class StepChain {
  readonly steps: readonly OnRequestStep[]
  // Only a request whose step went on later is kept here, until it resumes.
  readonly #waiting = new WeakMap<FastifyRequest, Waiting>()

  constructor (steps: readonly OnRequestStep[]) {
    this.steps = steps
  }

  readonly hook: Hook = (request, reply, done) => {
    this.#runFrom(0, request, reply, done)
  }

  readonly #resume: Resume = (request, reply) => {
    const waiting = this.#waiting.get(request)
    if (waiting === undefined) return
    this.#waiting.delete(request)
    // Answered meanwhile (a deadline passed): like Fastify's own runner, run nothing more.
    if (reply.sent) return
    try {
      this.#runFrom(waiting.next, request, reply, waiting.done)
    } catch (thrown) {
      // Run from a timer or another request's callback, not from Fastify's
      // runner, which would catch it: a step that throws is answered here.
      waiting.done(thrown instanceof Error ? thrown : new Error(String(thrown)))
    }
  }

  #runFrom (first: number, request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void {
    const steps = this.steps
    for (let i = first; i < steps.length; i++) {
      const outcome = (steps[i] as OnRequestStep)(request, reply, this.#resume)
      if (outcome === GO_ON) continue
      if (outcome === LATER) this.#waiting.set(request, { done, next: i + 1 })
      return
    }
    done()
  }
}

/** The chain behind each hook made here, to find the route's last hook's. */
const chainOf = new WeakMap<Hook, StepChain>()

/**
 * Adds `step` after the route's onRequest hooks: to the last one's steps
 * when that hook is a chain made here, else as a hook of its own. A new
 * chain replaces the last one, so that route options copied before (the
 * implicit HEAD route's) keep theirs unchanged.
 */
export function appendOnRequestStep (routeOptions: RouteOptions, step: OnRequestStep): void {
  const existing = routeOptions.onRequest as Hook | Hook[] | undefined
  const hooks = existing === undefined ? [] : Array.isArray(existing) ? existing : [existing]
  const last = hooks.at(-1)
  const chain = last === undefined ? undefined : chainOf.get(last)
  const next = new StepChain(chain === undefined ? [step] : [...chain.steps, step])
  chainOf.set(next.hook, next)
  const kept = chain === undefined ? hooks : hooks.slice(0, -1)
  ;(routeOptions as unknown as { onRequest: Hook[] }).onRequest = [...kept, next.hook]
}
