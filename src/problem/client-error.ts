import { Buffer } from 'node:buffer'
import { reasonPhrase } from './build.js'
import type { ProblemDocument } from './document.js'

const DETAILS: Readonly<Record<number, string>> = {
  400: 'The request is not valid HTTP.',
  408: 'The request was not received in time.',
  431: 'The request header fields are too large.',
}

/**
 * The raw HTTP response for an error of Node's HTTP parser: such requests
 * never reach Fastify's routing, so the answer is written to the socket
 * directly, and the connection is closed after it.
 */
export function clientErrorResponse (errorCode: unknown): string {
  const status = errorCode === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : errorCode === 'HPE_HEADER_OVERFLOW' ? 431 : 400
  const title = reasonPhrase(status)
  const problem: ProblemDocument = { type: 'about:blank', title, status, detail: DETAILS[status] ?? title }
  const body = JSON.stringify(problem)
  return `HTTP/1.1 ${status} ${title}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
}
