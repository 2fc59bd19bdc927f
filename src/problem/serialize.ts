import type { ProblemDocument } from './document.js'

export interface SerializedProblem {
  body: string
  /** False when an extension member could not be serialised and was left out. */
  complete: boolean
}

/**
 * Serialises a problem. When an extension member cannot be turned into JSON
 * (a cycle, a BigInt, a throwing toJSON) the core members are still sent:
 * a client must never get a 500 because of how an error was decorated.
 */
export function serializeProblem (problem: ProblemDocument): SerializedProblem {
  try {
    return { body: JSON.stringify(problem), complete: true }
  } catch {
    const core: ProblemDocument = { type: problem.type, title: problem.title, status: problem.status }
    if (typeof problem.detail === 'string') core.detail = problem.detail
    if (typeof problem.instance === 'string') core.instance = problem.instance
    return { body: JSON.stringify(core), complete: false }
  }
}
