import Fastify from 'fastify'
import { createServer } from 'node:http'
import type { Server } from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import { problemDetails, resilience, statusPage } from '../../plugins/index.js'
import { CSRF_COOKIE } from '../../src/status-page/index.js'
import { GAME_DAY, buildPrefixedStatusApp, buildStatusApp, isOps, readEvents } from './helpers.js'
import type { StatusApp } from './helpers.js'

const OPS = 'role=ops'
const closers: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close()
})

async function statusApp (): Promise<StatusApp> {
  const built = await buildStatusApp()
  closers.push(async () => { built.release(); await built.app.close() })
  await built.app.ready()
  return built
}

/** Loads the page as the ops browser would: its cookie (nonce) and token. */
async function session (built: StatusApp): Promise<{ cookie: string, token: string }> {
  const page = await built.app.inject({ url: '/resilience', headers: { cookie: OPS } })
  expect(page.statusCode).toBe(200)
  const setCookie = String(page.headers['set-cookie'])
  const nonce = /frs-status-csrf=([0-9a-f]{32})/.exec(setCookie)?.[1]
  const token = /name="frs-csrf-token" content="([^"]+)"/.exec(page.body)?.[1]
  if (nonce === undefined || token === undefined) throw new Error('the page set no nonce or token')
  return { cookie: `${OPS}; ${CSRF_COOKIE}=${nonce}`, token }
}

describe('status page routes', () => {
  it('is off unless the umbrella is given statusPage', async () => {
    const app = Fastify()
    closers.push(async () => await app.close())
    await app.register(resilience)
    expect((await app.inject('/resilience')).statusCode).toBe(404)
  })

  it('answers a 403 problem to a caller authorize() refuses, on the page, its stream and its action', async () => {
    const built = await statusApp()
    for (const [method, url] of [['GET', '/resilience'], ['GET', '/resilience/events'], ['POST', '/resilience/actions/kill-chaos']] as const) {
      const response = await built.app.inject({ method, url })
      expect(response.statusCode, url).toBe(403)
      expect(response.headers['content-type']).toContain('application/problem+json')
      expect(response.json()).toMatchObject({ status: 403 })
    }
  })

  it('refuses when authorize() throws or answers anything but true', async () => {
    for (const authorize of [() => { throw new Error('boom') }, () => 'yes' as unknown as boolean, async () => false]) {
      const app = Fastify()
      closers.push(async () => await app.close())
      await app.register(resilience, { statusPage: { authorize } })
      expect((await app.inject('/resilience')).statusCode).toBe(403)
    }
  })

  it('serves the page with a strict Content-Security-Policy and no inline script', async () => {
    const built = await statusApp()
    const page = await built.app.inject({ url: '/resilience', headers: { cookie: OPS } })
    expect(page.statusCode).toBe(200)
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8')
    const csp = String(page.headers['content-security-policy'])
    expect(csp).toContain("default-src 'none'")
    expect(csp).toContain("script-src 'self'")
    expect(csp).toContain("frame-ancestors 'none'")
    expect(csp).not.toContain('unsafe-inline')
    expect(page.headers['cache-control']).toBe('no-store')
    expect(page.headers['x-content-type-options']).toBe('nosniff')
    // Every script has a src: nothing inline for the CSP to allow.
    const scripts = page.body.match(/<script[^>]*>/g) ?? []
    expect(scripts.length).toBeGreaterThan(0)
    for (const tag of scripts) expect(tag).toMatch(/ src="\/resilience\/assets\//)
    expect(page.body).not.toMatch(/<script[^>]*>[^<]+<\/script>/)
    expect(page.body).not.toMatch(/ style=/)
    const cookie = String(page.headers['set-cookie'])
    expect(cookie).toContain('HttpOnly')
    expect(cookie).toContain('SameSite=Strict')
    expect(cookie).toContain('Path=/resilience')
  })

  it('serves its assets from the package, uPlot included, and a 404 problem for others', async () => {
    const built = await statusApp()
    for (const [name, type] of [['status.js', 'text/javascript'], ['status.css', 'text/css'], ['uPlot.iife.min.js', 'text/javascript'], ['uPlot.min.css', 'text/css']]) {
      const response = await built.app.inject(`/resilience/assets/${name}`)
      expect(response.statusCode, name).toBe(200)
      expect(response.headers['content-type']).toContain(type)
      const again = await built.app.inject({ url: `/resilience/assets/${name}`, headers: { 'if-none-match': String(response.headers.etag) } })
      expect(again.statusCode).toBe(304)
    }
    const missing = await built.app.inject('/resilience/assets/..%2fpackage.json')
    expect(missing.statusCode).toBe(404)
    expect(missing.headers['content-type']).toContain('application/problem+json')
  })

  it('refuses the kill switch without the CSRF token, with a wrong one, from another origin, or cross-site', async () => {
    const built = await statusApp()
    built.app.chaos.start(GAME_DAY)
    const { cookie, token } = await session(built)
    const url = '/resilience/actions/kill-chaos'
    const refused = [
      { cookie },
      { cookie, 'x-csrf-token': `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}` },
      { cookie: OPS, 'x-csrf-token': token },
      { cookie: `${OPS}; ${CSRF_COOKIE}=${'0'.repeat(32)}`, 'x-csrf-token': token },
      { cookie, 'x-csrf-token': token, origin: 'https://evil.example' },
      { cookie, 'x-csrf-token': token, 'sec-fetch-site': 'cross-site' },
    ]
    for (const headers of refused) {
      const response = await built.app.inject({ method: 'POST', url, headers })
      expect(response.statusCode, JSON.stringify(headers)).toBe(403)
      expect(response.headers['content-type']).toContain('application/problem+json')
    }
    expect(built.app.chaos.stats()).toMatchObject({ enabled: true, experiments: [{ name: 'game-day' }] })
    const accepted = await built.app.inject({ method: 'POST', url, headers: { cookie, 'x-csrf-token': token, origin: 'http://localhost:80', host: 'localhost:80', 'sec-fetch-site': 'same-origin' } })
    expect(accepted.statusCode).toBe(200)
    expect(built.app.chaos.stats()).toMatchObject({ enabled: false, experiments: [], stoppedBecause: 'killed from the status page' })
  })

  it('streams snapshots that keep coming while the server sheds, and show no URL, key or tenant', async () => {
    const secret = createServer((_request, response) => { response.end('{}') })
    await new Promise<void>((resolve) => secret.listen(0, '127.0.0.1', resolve))
    closers.push(async () => await new Promise((resolve) => (secret as Server).close(resolve)))
    const { port } = secret.address() as { port: number }
    const app = Fastify()
    closers.push(async () => await app.close())
    let release: () => void = () => {}
    const held = new Promise<void>((resolve) => { release = resolve })
    closers.push(async () => { release() })
    await app.register(resilience, {
      loadShedding: { limit: 1, maxQueue: 0, criticalReserve: 0, pressure: false, loopLag: false },
      dependencies: { payments: { baseUrl: `http://127.0.0.1:${port}/secret-path-7f3a` } },
      idempotency: { scope: (request) => String(request.headers['x-tenant']) },
      statusPage: { authorize: isOps, intervalMs: 250 },
    })
    app.post('/orders', { config: { idempotency: {}, dependencies: ['payments'] } }, async (request) => await (await request.dependency('payments').fetch('/charge')).json())
    app.get('/hold', async () => { await held; return {} })
    const base = await app.listen({ port: 0, host: '127.0.0.1' })
    const order = await fetch(`${base}/orders`, { method: 'POST', headers: { 'idempotency-key': 'key-c0ffee', 'x-tenant': 'tenant-beef42', 'content-type': 'application/json' }, body: '{}' })
    expect(order.status).toBe(200)
    const holding = fetch(`${base}/hold`)
    const start = Date.now()
    while ((await fetch(`${base}/hold`)).status !== 503) if (Date.now() - start > 10_000) throw new Error('no shed')
    const stream = await readEvents(`${base}/resilience/events`, { cookie: OPS }, (events) => events.filter((event) => event.event === 'snapshot').length >= 2)
    release()
    await holding
    expect(stream.status).toBe(200)
    expect(stream.type).toBe('text/event-stream; charset=utf-8')
    expect(stream.events[0]?.event).toBe('init')
    const last = JSON.parse(stream.events.at(-1)?.data ?? '{}') as { snapshot: { shedding: { shed: number, byReason: Record<string, number> }, idempotency: { executed: number }, dependencies: Array<{ name: string }> } }
    expect(last.snapshot.shedding.byReason.concurrency).toBeGreaterThanOrEqual(1)
    expect(last.snapshot.idempotency.executed).toBe(1)
    expect(last.snapshot.dependencies.map((dependency) => dependency.name)).toEqual(['payments'])
    for (const secretText of ['secret-path-7f3a', `127.0.0.1:${port}`, 'key-c0ffee', 'tenant-beef42']) expect(stream.raw).not.toContain(secretText)
  })

  it('ends its streams when the app closes, so that an open page does not hold the close', async () => {
    const app = Fastify()
    await app.register(resilience, { health: { shutdown: { graceMs: 0 } }, statusPage: { authorize: isOps } })
    const base = await app.listen({ port: 0, host: '127.0.0.1' })
    const response = await fetch(`${base}/resilience/events`, { headers: { cookie: OPS } })
    expect(response.status).toBe(200)
    const reading = (async () => {
      let text = ''
      for await (const chunk of response.body ?? []) text += new TextDecoder().decode(chunk as Uint8Array)
      return text
    })()
    await app.close()
    // The stream ended by itself: its body is complete.
    expect(await reading).toContain('event: init')
  })

  it('fails at registration without authorize, or with a bad path', async () => {
    for (const statusPage of [{}, { authorize: true }, { authorize: isOps, path: 'resilience' }, { authorize: isOps, path: '/a/' }, { authorize: isOps, intervalMs: 10 }, { authorize: isOps, csrfSecret: 'short' }, { authorize: isOps, colour: 'red' }]) {
      const app = Fastify()
      closers.push(async () => await app.close())
      await expect(app.register(resilience, { statusPage: statusPage as never }).ready(), JSON.stringify(statusPage)).rejects.toThrow(/statusPage/)
    }
  })
})

describe('status page in a context with a prefix', () => {
  it('links its assets, stream and cookie under the prefix, and its kill switch acts with that cookie', async () => {
    const { app, scope } = await buildPrefixedStatusApp('/v1')
    closers.push(async () => await app.close())
    const address = await app.listen({ port: 0, host: '127.0.0.1' })
    scope.chaos.start(GAME_DAY)

    const page = await fetch(`${address}/v1/resilience`, { headers: { cookie: OPS } })
    expect(page.status).toBe(200)
    const html = await page.text()
    expect(/name="frs-status-base" content="([^"]*)"/.exec(html)?.[1]).toBe('/v1/resilience')
    const links = [...html.matchAll(/ (?:href|src)="([^"]*)"/g)].map((match) => match[1] ?? '')
    expect(links).toHaveLength(5)
    for (const link of links) {
      expect(link).toMatch(/^\/v1\/resilience\/assets\//)
      const asset = await fetch(`${address}${link}`)
      expect(asset.status, link).toBe(200)
      // Read to the end: a body left unread keeps its connection busy, and the app's close waits for it.
      await asset.arrayBuffer()
    }

    // A browser sends the cookie only to URLs under its Path: the stream's and the action's.
    const setCookie = page.headers.get('set-cookie') ?? ''
    expect(setCookie).toMatch(/; Path=\/v1\/resilience;/)
    const nonce = /frs-status-csrf=([0-9a-f]{32})/.exec(setCookie)?.[1]
    const token = /name="frs-csrf-token" content="([^"]+)"/.exec(html)?.[1]
    expect(nonce).toBeDefined()
    expect(token).toBeDefined()
    const cookie = `${OPS}; ${CSRF_COOKIE}=${nonce ?? ''}`

    const stream = await readEvents(`${address}/v1/resilience/events`, { cookie }, (events) => events.some(({ event }) => event === 'init'))
    expect(stream.status).toBe(200)
    expect(stream.type).toBe('text/event-stream; charset=utf-8')

    const killed = await fetch(`${address}/v1/resilience/actions/kill-chaos`, { method: 'POST', headers: { cookie, 'x-csrf-token': token ?? '', origin: address, 'sec-fetch-site': 'same-origin' } })
    expect(killed.status).toBe(200)
    expect(await killed.json()).toEqual({ killed: true })
    expect(scope.chaos.stats()).toMatchObject({ enabled: false, experiments: [], stoppedBecause: 'killed from the status page' })
  })

  it('joins a prefix ending in a slash, nested contexts and its own path as Fastify mounts its routes', async () => {
    const app = Fastify()
    closers.push(async () => await app.close())
    await app.register(async (api) => {
      await api.register(problemDetails)
      await api.register(async (ops) => {
        await ops.register(statusPage, { path: '/status', authorize: isOps })
      }, { prefix: 'ops/' })
    }, { prefix: '/api/' })
    await app.ready()
    const page = await app.inject({ url: '/api/ops/status', headers: { cookie: OPS } })
    expect(page.statusCode).toBe(200)
    expect(/name="frs-status-base" content="([^"]*)"/.exec(page.body)?.[1]).toBe('/api/ops/status')
    expect(String(page.headers['set-cookie'])).toContain('Path=/api/ops/status;')
    const script = / src="([^"]*status\.js[^"]*)"/.exec(page.body)?.[1] ?? ''
    expect(script).toMatch(/^\/api\/ops\/status\/assets\/status\.js/)
    expect((await app.inject(script)).statusCode).toBe(200)
  })
})
