/**
 * What a `<!-- check: with-app -->` block of the docs may use without
 * declaring it: the application, a request inside a handler, clients and
 * the application's own functions. Each name is declared only when the
 * block does not declare it itself.
 */
const DECLARATIONS: ReadonlyArray<readonly [string, string]> = [
  ['Fastify', "import Fastify from 'fastify'"],
  ['resilience', "import resilience from 'fastify-resilience'"],
  ['app', "declare const app: import('fastify').FastifyInstance"],
  ['request', "declare const request: import('fastify').FastifyRequest"],
  ['reply', "declare const reply: import('fastify').FastifyReply"],
  ['redis', "declare const redis: import('ioredis').Redis"],
  ['got', "import got from 'got'"],
  ['register', "import { register } from 'prom-client'"],
  ['url', 'declare const url: string'],
  ['baseUrl', 'declare const baseUrl: string'],
  ['body', 'declare const body: string'],
  ['json', 'declare const json: Record<string, unknown>'],
  ['opsToken', 'declare const opsToken: string'],
  ['soldOut', 'declare const soldOut: boolean'],
  ['featureFlags', 'declare const featureFlags: { freeze (name: string): void }'],
  ['pool', 'declare const pool: { query (query: { text: string, signal: AbortSignal }): Promise<unknown> }'],
  ['hub', "declare const hub: import('fastify-resilience').MetricsHub"],
  ['counts', 'declare const counts: { a: number }'],
  ['state', 'declare const state: { open: number }'],
  // An application that authenticates its requests (idempotency scopes use it).
  ['user', "declare module 'fastify' { interface FastifyRequest { user: { accountId: string } } }"],
  // The application's own handlers and helpers.
  ...['createOrder', 'chargeHandler', 'streamHandler', 'health', 'search', 'recommend', 'report'].map((name) => [name, `declare function ${name} (...args: unknown[]): Promise<unknown>`] as const),
]

function declares (code: string, name: string): boolean {
  const escaped = name.replace(/[$]/g, '\\$')
  return new RegExp(`(?:\\b(?:const|let|var|function|class)\\s+${escaped}\\b)|(?:\\bimport\\b[^\\n]*\\b${escaped}\\b[^\\n]*\\bfrom\\b)`).test(code)
}

/** The lines to put before a block: every declaration whose name the block uses and does not declare. */
export function preambleFor (code: string): string {
  const lines = DECLARATIONS.filter(([name]) => new RegExp(`\\b${name}\\b`).test(code) && !declares(code, name)).map(([, line]) => line)
  return lines.length === 0 ? '' : lines.join('\n') + '\n'
}
