import { STATUS_CODES } from 'node:http'
import { FRS_ERR_PROBLEM_STATUS_INVALID, FRS_ERR_PROBLEM_TYPE_UNKNOWN } from '../errors.js'
import { describeValue } from '../describe.js'
import { CORE_MEMBERS, isAbsoluteUri, isErrorStatus, isValidExtensionName } from './document.js'
import type { ProblemDocument, ProblemInit } from './document.js'
import type { ProblemTypeDefinition, ProblemTypeRegistry } from './registry.js'

export interface BuiltProblem {
  problem: ProblemDocument
  /** Extension member names that were refused (core names, or names outside RFC 9457 §3.2). */
  droppedMembers: string[]
}

export function reasonPhrase (status: number): string {
  return STATUS_CODES[status] ?? (status >= 500 ? 'Server Error' : 'Client Error')
}

/**
 * Builds a problem from what an application asked for. The core members are
 * resolved here and cannot be overridden by extensions: `type` comes from
 * the registry (or is an absolute URI), `title` is the registered one or
 * the status's reason phrase for `about:blank`, `status` is an error status.
 *
 * @throws FRS_ERR_PROBLEM_TYPE_UNKNOWN, FRS_ERR_PROBLEM_STATUS_INVALID
 */
export function buildProblem (init: ProblemInit, registry: ProblemTypeRegistry, instance?: string): BuiltProblem {
  let type = 'about:blank'
  let definition: Readonly<ProblemTypeDefinition> | undefined
  if (init.type !== undefined && init.type !== 'about:blank') {
    if (typeof init.type !== 'string') throw new FRS_ERR_PROBLEM_TYPE_UNKNOWN(describeValue(init.type))
    definition = registry.get(init.type)
    if (definition !== undefined) type = registry.uri(init.type)
    else if (isAbsoluteUri(init.type)) type = init.type
    else throw new FRS_ERR_PROBLEM_TYPE_UNKNOWN(JSON.stringify(init.type))
  }
  const status = init.status ?? definition?.status
  if (!isErrorStatus(status)) throw new FRS_ERR_PROBLEM_STATUS_INVALID(describeValue(status))

  let title = definition?.title ?? reasonPhrase(status)
  // RFC 9457 §4.2: with about:blank the title is the reason phrase; only a
  // custom type URI may bring a title of its own.
  if (definition === undefined && type !== 'about:blank' && typeof init.title === 'string' && init.title !== '') title = init.title

  const problem: ProblemDocument = { type, title, status }
  if (typeof init.detail === 'string') problem.detail = init.detail
  if (instance !== undefined) problem.instance = instance
  const droppedMembers = copyExtensions(init, problem)
  return { problem, droppedMembers }
}

function copyExtensions (source: Readonly<Record<string, unknown>>, target: ProblemDocument): string[] {
  const dropped: string[] = []
  for (const name of Object.keys(source)) {
    if (CORE_MEMBERS.has(name)) continue
    // `toJSON` would replace the whole document when it is written: a
    // member of that name is dropped as an invalid one is.
    if (!isValidExtensionName(name) || name === 'toJSON') {
      dropped.push(name)
      continue
    }
    const value = source[name]
    if (value !== undefined) target[name] = value
  }
  return dropped
}

/**
 * Reads an error's HTTP status the way Fastify does: its `statusCode` when
 * that is an error status, else its `status` when that is one, else 500.
 */
export function statusOfError (error: unknown): number {
  if (typeof error !== 'object' || error === null) return 500
  const { statusCode, status } = error as { statusCode?: unknown, status?: unknown }
  if (isErrorStatus(statusCode)) return statusCode
  return isErrorStatus(status) ? status : 500
}
