import websocket from '@fastify/websocket'
import type { WebsocketPluginOptions } from '@fastify/websocket'
import type { FastifyInstance, FastifyServerOptions } from 'fastify'
import { once } from 'node:events'
import { performance } from 'node:perf_hooks'
import { afterEach, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import type { RawData } from 'ws'
import resilience from '../../plugins/index.js'
import type { ResilienceOptions } from '../../plugins/index.js'
import { createTestApp } from '../helpers/app.js'
import type { LogLine } from '../helpers/app.js'
import { deferred } from '../helpers/deferred.js'
import { listen } from '../helpers/listen.js'

/*
 * Websocket routes next to @fastify/websocket, registered as users do,
 * before the library and after it, over real sockets. An upgrade that
 * @fastify/websocket takes over is left alone by each capability unless
 * its route's config asks; a plain request to the same route is an
 * ordinary one.
 */

interface Started {
  app: FastifyInstance
  logs: LogLine[]
  http: string
  ws: string
}

let started: Started | undefined
const clients: WebSocket[] = []
afterEach(async () => {
  for (const client of clients.splice(0)) client.terminate()
  await started?.app.close()
  started = undefined
})

type Order = 'before' | 'after'

/** The library registered `order` @fastify/websocket, then the routes. */
async function start (order: Order, options: ResilienceOptions, routes: (app: FastifyInstance) => void, server: FastifyServerOptions = {}, websocketOptions: WebsocketPluginOptions = {}): Promise<Started> {
  const { app, logs } = createTestApp(server)
  if (order === 'after') await app.register(websocket, websocketOptions)
  await app.register(resilience, options)
  if (order === 'before') await app.register(websocket, websocketOptions)
  routes(app)
  const port = await listen(app)
  started = { app, logs, http: `http://127.0.0.1:${port}`, ws: `ws://127.0.0.1:${port}` }
  return started
}

/** Answers each message with the same text; `closed` resolves once the server side has closed. */
function echo (closed?: () => void) {
  return (socket: WebSocket): void => {
    socket.on('message', (data: RawData) => { socket.send(String(data)) })
    if (closed !== undefined) socket.on('close', closed)
  }
}

async function open (url: string): Promise<WebSocket> {
  const client = new WebSocket(url)
  clients.push(client)
  await once(client, 'open')
  return client
}

/** The status of the HTTP answer that refused an upgrade. */
async function refusal (url: string, headers: Record<string, string> = {}): Promise<number> {
  const client = new WebSocket(url, { headers })
  clients.push(client)
  const [error] = await once(client, 'error') as [Error]
  const status = /^Unexpected server response: (\d+)$/.exec(error.message)?.[1]
  if (status === undefined) throw error
  return Number(status)
}

/** Sends `text` and waits for the echo; rejects if the connection closes first. */
async function roundTrip (client: WebSocket, text: string): Promise<string> {
  if (client.readyState !== WebSocket.OPEN) throw new Error(`the websocket is not open (readyState ${client.readyState})`)
  return await new Promise((resolve, reject) => {
    const onMessage = (data: RawData): void => { settle(); resolve(String(data)) }
    const onClose = (code: number): void => { settle(); reject(new Error(`the websocket closed with ${code}`)) }
    const settle = (): void => {
      client.off('message', onMessage)
      client.off('close', onClose)
    }
    client.on('message', onMessage)
    client.on('close', onClose)
    client.send(text)
  })
}

async function closeAndWait (client: WebSocket, serverClosed: Promise<void>): Promise<void> {
  client.close(1000)
  await Promise.all([once(client, 'close'), serverClosed])
}

const messages = (logs: LogLine[]): string[] => logs.map((line) => line.msg)
const CLIENT_LEFT = 'client closed the connection before the response; its work was aborted'

describe.each(['before', 'after'] as const)('the library registered %s @fastify/websocket', (order) => {
  describe('deadlines', () => {
    it('leave a websocket open past its route\'s deadline while messages flow', async () => {
      const timeouts: number[] = []
      const { logs } = await start(order, { loadShedding: false, deadlines: { defaultTimeoutMs: 200 } }, (app) => {
        app.get('/echo', { websocket: true }, (socket, request) => {
          timeouts.push(request.deadline.timeoutMs)
          echo()(socket)
        })
      })
      const client = await open(`${started?.ws}/echo`)
      // Three times the deadline, measured here: however slow the machine,
      // the deadline's timer has come due by the end of the loop.
      const since = performance.now()
      for (let n = 0; performance.now() - since < 600; n++) {
        expect(await roundTrip(client, `message ${n}`)).toBe(`message ${n}`)
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
      expect(timeouts).toEqual([Infinity])
      expect(messages(logs)).not.toContain('deadline exceeded; answering 504')
    })

    it('log nothing when a websocket closes normally', async () => {
      const serverClosed = deferred()
      const { logs } = await start(order, { loadShedding: false }, (app) => {
        app.get('/echo', { websocket: true }, echo(() => { serverClosed.resolve() }))
      })
      const client = await open(`${started?.ws}/echo`)
      expect(await roundTrip(client, 'hello')).toBe('hello')
      await closeAndWait(client, serverClosed.promise)
      expect(messages(logs)).not.toContain(CLIENT_LEFT)
    })

    it('still bound a plain request to a route that also serves websockets', async () => {
      await start(order, { loadShedding: false, deadlines: { defaultTimeoutMs: 200 } }, (app) => {
        app.route({
          method: 'GET',
          url: '/feed',
          handler: async () => await new Promise(() => {}),
          wsHandler: echo(),
        })
      })
      const client = await open(`${started?.ws}/feed`)
      const response = await fetch(`${started?.http}/feed`)
      expect(response.status).toBe(504)
      expect(await roundTrip(client, 'still open')).toBe('still open')
    })

    it('cut a websocket whose route\'s config.deadline asks for one at that deadline, and only that one', async () => {
      const { logs } = await start(order, { loadShedding: false, deadlines: { defaultTimeoutMs: 200 } }, (app) => {
        app.get('/echo', { websocket: true }, echo())
        app.get('/bounded', { websocket: true, config: { deadline: { timeoutMs: 300 } } }, echo())
      })
      // Opened first, with a shorter default deadline: had it applied, it would have passed first.
      const unbounded = await open(`${started?.ws}/echo`)
      const bounded = await open(`${started?.ws}/bounded`)
      const [code] = await once(bounded, 'close') as [number]
      expect(code).toBe(1006)
      expect(messages(logs)).toContain('deadline exceeded; websocket connection cut')
      expect(await roundTrip(unbounded, 'still open')).toBe('still open')
    })
  })

  describe('load shedding', () => {
    it('takes no slot for open websockets: three times the limit of them leave every slot to the other routes', async () => {
      const limit = 10
      await start(order, { loadShedding: { limit, maxQueue: 0 } }, (app) => {
        app.get('/echo', { websocket: true }, echo())
        app.route({ method: 'GET', url: '/feed', handler: async () => 'plain', wsHandler: echo() })
        app.get('/orders', async () => ({ ok: true }))
      })
      const open3x: WebSocket[] = []
      for (let n = 0; n < 3 * limit; n++) open3x.push(await open(`${started?.ws}/${n % 2 === 0 ? 'echo' : 'feed'}`))
      expect(await roundTrip(open3x[0] as WebSocket, 'hello')).toBe('hello')
      expect((await fetch(`${started?.http}/orders`)).status).toBe(200)
      expect((await fetch(`${started?.http}/feed`)).status).toBe(200)
      const stats = started?.app.loadShedding.stats()
      expect(stats?.inFlight).toBe(0)
      // The two plain requests, /feed's included; none of the upgrades.
      expect(stats?.admitted).toBe(2)
      expect(stats?.shed.total).toBe(0)
    })

    it('admits the upgrades of a route whose config.shedding asks, and only those: its bulkhead caps its open websockets', async () => {
      await start(order, { loadShedding: { limit: 2, maxQueue: 0 } }, (app) => {
        app.get('/echo', { websocket: true }, echo())
        app.get('/capped', { websocket: true, config: { shedding: { maxConcurrent: 2 } } }, echo())
      })
      for (let n = 0; n < 3; n++) await open(`${started?.ws}/echo`)
      await open(`${started?.ws}/capped`)
      await open(`${started?.ws}/capped`)
      expect(await refusal(`${started?.ws}/capped`)).toBe(503)
      const stats = started?.app.loadShedding.stats()
      expect(stats?.bulkheads['GET /capped']?.inFlight).toBe(2)
      expect(stats?.inFlight).toBe(0)
    })
  })

  describe('error budgets', () => {
    const refusingUpgrades = { preValidation: async (request: { headers: Record<string, unknown> }) => { if (request.headers['x-refuse'] !== undefined) throw new Error('refused') } }

    it('count no upgrade of a websocket route, refused or not, and count its plain requests', async () => {
      const serverClosed = deferred()
      await start(order, { loadShedding: false, errorBudget: { objectives: [{ name: 'api', availability: 0.99 }], defaultObjective: 'api' } }, (app) => {
        app.route({ method: 'GET', url: '/feed', ...refusingUpgrades, handler: async () => 'plain', wsHandler: echo(() => { serverClosed.resolve() }) })
      })
      const client = await open(`${started?.ws}/feed`)
      expect(await refusal(`${started?.ws}/feed`, { 'x-refuse': '1' })).toBe(500)
      await closeAndWait(client, serverClosed.promise)
      expect((await fetch(`${started?.http}/feed`)).status).toBe(200)
      expect(started?.app.errorBudget.status()[0]?.events).toEqual({ total: 1, good: 1, bad: 0 })
    })

    it('count each upgrade once on a route whose config.slo asks: a refusal by its status, a handshake as good', async () => {
      const serverClosed = deferred()
      await start(order, { loadShedding: false, errorBudget: { objectives: [{ name: 'api', availability: 0.99 }] } }, (app) => {
        app.get('/echo', { websocket: true, config: { slo: 'api' }, ...refusingUpgrades }, echo(() => { serverClosed.resolve() }))
      })
      const first = await open(`${started?.ws}/echo`)
      await open(`${started?.ws}/echo`)
      expect(await refusal(`${started?.ws}/echo`, { 'x-refuse': '1' })).toBe(500)
      await closeAndWait(first, serverClosed.promise)
      expect(started?.app.errorBudget.status()[0]?.events).toEqual({ total: 3, good: 2, bad: 1 })
    })
  })

  describe('chaos', () => {
    const everything = { enabled: true, experiments: [{ name: 'everything', faults: [{ type: 'error' as const, rate: 1, status: 503 }] }] }

    it('leaves websocket handshakes alone while an experiment faults every other request', async () => {
      await start(order, { loadShedding: false, chaos: everything }, (app) => {
        app.get('/echo', { websocket: true }, echo())
        app.get('/orders', async () => ({ ok: true }))
      })
      const client = await open(`${started?.ws}/echo`)
      expect(await roundTrip(client, 'hello')).toBe('hello')
      expect((await fetch(`${started?.http}/orders`)).status).toBe(503)
    })

    it('faults the handshakes of a route whose config.chaos asks, and only those', async () => {
      await start(order, { loadShedding: false, chaos: everything }, (app) => {
        app.get('/echo', { websocket: true }, echo())
        app.get('/faulted', { websocket: true, config: { chaos: { faults: [] } } }, echo())
      })
      expect(await refusal(`${started?.ws}/faulted`)).toBe(503)
      expect(await roundTrip(await open(`${started?.ws}/echo`), 'hello')).toBe('hello')
    })
  })
})

/*
 * Registered after @fastify/websocket, the library's hooks come second:
 * @fastify/websocket's onRoute hook has taken the route's handler before
 * the deadline's sees it, and its preClose hook closes the websockets
 * before health's waits. Only this order showed these two.
 */
describe('the library registered before @fastify/websocket, its hooks first', () => {
  const order = 'before'

  it('leaves an async websocket handler\'s rejection to @fastify/websocket\'s errorHandler', async () => {
    const caught = deferred<Error>()
    await start(order, { loadShedding: false }, (app) => {
      app.get('/failing', { websocket: true }, async () => { throw new Error('the handler failed') })
    }, {}, {
      errorHandler: (error, socket) => {
        caught.resolve(error)
        socket.terminate()
      },
    })
    await open(`${started?.ws}/failing`)
    expect((await caught.promise).message).toBe('the handler failed')
  })

  it('closes the app with an open websocket once the grace is over, without waiting for it until the shutdown timeout', async () => {
    const timeoutMs = 10_000
    await start(order, { loadShedding: false, health: { shutdown: { graceMs: 100, timeoutMs } } }, (app) => {
      app.get('/echo', { websocket: true }, echo())
    }, { pluginTimeout: 60_000 })
    const client = await open(`${started?.ws}/echo`)
    expect(await roundTrip(client, 'hello')).toBe('hello')
    const clientClosed = once(client, 'close')
    const since = performance.now()
    await started?.app.close()
    const tookMs = performance.now() - since
    await clientClosed
    // A request in flight would have held the shutdown until its timeout.
    expect(tookMs).toBeLessThan(timeoutMs / 2)
  }, 30_000)
})
