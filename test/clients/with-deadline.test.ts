import { once } from 'node:events'
import { createServer, request as httpRequest } from 'node:http'
import type { IncomingMessage, RequestOptions, Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import got from 'got'
import type { OptionsInit } from 'got'
import { request as undiciRequest } from 'undici'
import type { Dispatcher } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { withDeadline } from '../../plugins/index.js'
import type { DeadlineInit } from '../../plugins/index.js'
import { Deadline } from '../../src/deadline/index.js'
import { ManualClock } from '../helpers/manual-clock.js'

/*
 * withDeadline through the HTTP clients it is for, against a real server
 * that answers with the headers it received: the caller's headers and the
 * budget header must both arrive, whatever shape the client takes them in.
 * got and http.request read a plain object only; a Headers made them drop
 * every header without an error.
 */

interface Echo {
  headers: Record<string, string | string[] | undefined>
  /** Every header line as sent, to count a header sent twice. */
  raw: string[]
}

let server: Server
let url: string
beforeAll(async () => {
  server = createServer((request, response) => {
    response.setHeader('content-type', 'application/json')
    response.end(JSON.stringify({ headers: request.headers, raw: request.rawHeaders } satisfies Echo))
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/echo`
})
afterAll(async () => {
  server.close()
  await once(server, 'close')
})

const BUDGET = 'x-request-timeout-ms'

/** A deadline of 5 s whose clock stands still: the budget header is exactly 5000. */
function deadline (): Deadline {
  return new Deadline({ timeoutMs: 5000, forwardHeader: BUDGET, clock: new ManualClock() })
}

/** Sends a GET with the options withDeadline gave back, as a user of that client would, and reads the echo. */
type Send = (init: DeadlineInit) => Promise<Echo>

const CLIENTS: Record<'got' | 'http.request' | 'undici.request' | 'fetch', Send> = {
  got: async (init) => await got(url, withDeadline(deadline(), { ...init as Pick<OptionsInit, 'headers'>, retry: { limit: 0 } })).json<Echo>(),
  'http.request': async (init) => await new Promise<Echo>((resolve, reject) => {
    const request = httpRequest(url, withDeadline(deadline(), init as RequestOptions), (response: IncomingMessage) => {
      let body = ''
      response.setEncoding('utf8')
      response.on('data', (chunk: string) => { body += chunk })
      response.on('end', () => {
        if (response.statusCode === 200) resolve(JSON.parse(body) as Echo)
        else reject(new Error(`the server answered ${response.statusCode ?? 'nothing'}`))
      })
      response.on('error', reject)
    })
    request.on('error', reject)
    request.end()
  }),
  'undici.request': async (init) => await (await undiciRequest(url, withDeadline(deadline(), init as Partial<Dispatcher.RequestOptions> & DeadlineInit))).body.json() as Echo,
  fetch: async (init) => await (await fetch(url, withDeadline(deadline(), init as RequestInit))).json() as Echo,
}

/** The shapes of headers each client takes, each holding `x-a: b`. */
const SHAPES: Array<{ shape: string, headers: () => DeadlineInit['headers'], clients: Array<keyof typeof CLIENTS> }> = [
  { shape: 'a plain object', headers: () => ({ 'x-a': 'b' }), clients: ['got', 'http.request', 'undici.request', 'fetch'] },
  // With a flat array, http.request sends no Host of its own: the caller writes it, as its users must.
  { shape: 'a flat [name, value, …] array', headers: () => ['host', new URL(url).host, 'x-a', 'b'], clients: ['http.request', 'undici.request'] },
  { shape: 'an array of [name, value] pairs', headers: () => [['x-a', 'b']], clients: ['fetch'] },
  { shape: 'a Headers', headers: () => new Headers({ 'x-a': 'b' }), clients: ['undici.request', 'fetch'] },
  { shape: 'a Map', headers: () => new Map([['x-a', 'b']]), clients: ['undici.request', 'fetch'] },
]

/** How many times the budget header reached the server. */
function budgetLines (echo: Echo): number {
  return echo.raw.filter((entry, index) => index % 2 === 0 && entry.toLowerCase() === BUDGET).length
}

describe('withDeadline through got, node:http, undici.request and fetch against a real server', () => {
  for (const [client, send] of Object.entries(CLIENTS)) {
    it(`${client}: with no headers given, the budget header arrives`, async () => {
      const echo = await send({})
      expect(echo.headers[BUDGET]).toBe('5000')
      expect(budgetLines(echo)).toBe(1)
    })

    it(`${client}: the caller's plain-object headers arrive beside the budget header, which replaces one of the same name in any case`, async () => {
      const given = { 'x-a': 'b', 'X-Request-Timeout-MS': '99999' }
      const echo = await send({ headers: given })
      expect(echo.headers['x-a']).toBe('b')
      expect(echo.headers[BUDGET]).toBe('5000')
      expect(budgetLines(echo)).toBe(1)
      // The caller's object is left as it was.
      expect(given).toEqual({ 'x-a': 'b', 'X-Request-Timeout-MS': '99999' })
    })
  }

  for (const { shape, headers, clients } of SHAPES) {
    for (const client of clients) {
      it(`${client}: headers given as ${shape} arrive, and so does the budget header`, async () => {
        const echo = await CLIENTS[client]({ headers: headers() })
        expect(echo.headers['x-a']).toBe('b')
        expect(echo.headers[BUDGET]).toBe('5000')
        expect(budgetLines(echo)).toBe(1)
      })
    }
  }
})

describe('withDeadline gives the headers back in the shape given', () => {
  it('a plain object stays a plain object, a flat array a flat array, pairs pairs, a Headers a Headers, a Map a Map; none gives a plain object', () => {
    const own = deadline()
    expect(withDeadline(own, { headers: { 'x-a': 'b', 'X-REQUEST-TIMEOUT-MS': '1' } }).headers).toStrictEqual({ 'x-a': 'b', [BUDGET]: '5000' })
    expect(withDeadline(own, { headers: ['x-a', 'b', 'X-Request-Timeout-Ms', '1'] }).headers).toStrictEqual(['x-a', 'b', BUDGET, '5000'])
    expect(withDeadline(own, { headers: [] }).headers).toStrictEqual([BUDGET, '5000'])
    expect(withDeadline(own, { headers: [['x-a', 'b'], ['x-request-timeout-ms', '1']] }).headers).toStrictEqual([['x-a', 'b'], [BUDGET, '5000']])
    const fromHeaders = withDeadline(own, { headers: new Headers({ 'x-a': 'b' }) }).headers
    expect(fromHeaders).toBeInstanceOf(Headers)
    expect([...fromHeaders]).toEqual([['x-a', 'b'], [BUDGET, '5000']])
    const fromMap = withDeadline(own, { headers: new Map([['x-a', 'b'], ['X-Request-Timeout-Ms', '1']]) }).headers
    expect(fromMap).toBeInstanceOf(Map)
    expect([...fromMap]).toEqual([['x-a', 'b'], [BUDGET, '5000']])
    expect(withDeadline(own).headers).toStrictEqual({ [BUDGET]: '5000' })
    expect(withDeadline(own, { headers: null }).headers).toStrictEqual({ [BUDGET]: '5000' })
  })

  it('keeps a "__proto__" header a header', () => {
    const given = JSON.parse('{"__proto__": "x", "x-a": "b"}') as Record<string, string>
    const back = withDeadline(deadline(), { headers: given }).headers
    expect(Object.keys(back)).toEqual(['__proto__', 'x-a', BUDGET])
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype)
  })
})

describe('request.deadline.fetch with a Request', () => {
  it("keeps the Request's own headers beside the budget header, and its own signal", async () => {
    const own = deadline()
    const response = await own.fetch(new Request(url, { headers: { 'x-a': 'b' } }))
    const echo = await response.json() as Echo
    expect(echo.headers).toMatchObject({ 'x-a': 'b', [BUDGET]: '5000' })
    const cancelled = new AbortController()
    cancelled.abort(new Error('the caller gave up'))
    await expect(own.fetch(new Request(url, { signal: cancelled.signal }))).rejects.toThrow('the caller gave up')
    // An init's headers still win over the Request's, as fetch has it.
    const overridden = await (await own.fetch(new Request(url, { headers: { 'x-a': 'b' } }), { headers: { 'x-c': 'd' } })).json() as Echo
    expect(overridden.headers['x-a']).toBeUndefined()
    expect(overridden.headers).toMatchObject({ 'x-c': 'd', [BUDGET]: '5000' })
  })
})
