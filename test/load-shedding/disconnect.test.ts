import type { Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import type { TestApp } from '../helpers/app.js'
import { deferred } from '../helpers/deferred.js'
import { listen } from '../helpers/listen.js'
import { rawGet } from '../helpers/raw-http.js'
import { waitFor as waitUntil } from '../helpers/wait-for.js'
import { sheddingApp } from './helpers.js'

let current: TestApp | undefined
afterEach(async () => { await current?.app.close() })

// Generous: the server notices a closed socket late when the machine is busy.
const waitFor = async (condition: () => boolean): Promise<void> => { await waitUntil(condition, 10_000) }

describe('load shedding: connection drops', () => {
  it('frees the slot of a request whose client went away, without waiting for its handler', async () => {
    current = await sheddingApp({ loopLag: false, pressure: false, limit: 1, maxQueue: 0 })
    const { app } = current
    const started = deferred()
    const gate = deferred()
    app.get('/slow', async () => { started.resolve(); await gate.promise; return {} })
    app.get('/next', async () => ({ next: true }))
    const port = await listen(app)
    const socket = rawGet(port, '/slow')
    await started.promise
    expect(app.loadShedding.stats().inFlight).toBe(1)
    socket.destroy()
    await waitFor(() => app.loadShedding.stats().inFlight === 0)
    const response = await fetch(`http://127.0.0.1:${port}/next`)
    expect(response.status).toBe(200)
    gate.resolve()
  })

  it('frees the slot once, not again when the handler finishes after its client went away', async () => {
    current = await sheddingApp({ loopLag: false, pressure: false, limit: 2, maxQueue: 0 })
    const { app } = current
    const started = deferred()
    const gate = deferred()
    app.get('/slow', async () => {
      started.resolve()
      await gate.promise
      return {}
    })
    const port = await listen(app)
    const socket = rawGet(port, '/slow')
    await started.promise
    socket.destroy()
    await waitFor(() => app.loadShedding.stats().inFlight === 0)
    gate.resolve()
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(app.loadShedding.stats()).toMatchObject({ inFlight: 0, admitted: 1 })
  })

  it('does not run a waiting request whose client went away before a slot freed up', async () => {
    current = await sheddingApp({ loopLag: false, pressure: false, limit: 1, maxQueue: 5, maxQueueWaitMs: 10_000 })
    const { app } = current
    const gate = deferred()
    const ran: string[] = []
    app.get('/work/:name', async (request) => {
      const { name } = request.params as { name: string }
      ran.push(name)
      if (name === 'first') await gate.promise
      return {}
    })
    const port = await listen(app)
    const first = fetch(`http://127.0.0.1:${port}/work/first`)
    await waitFor(() => ran.length === 1)
    const socket = rawGet(port, '/work/gone')
    await waitFor(() => app.loadShedding.stats().queued === 1)
    socket.destroy()
    // The server has seen the client leave before the slot frees up.
    await waitFor(() => app.loadShedding.stats().queued === 0)
    gate.resolve()
    expect((await first).status).toBe(200)
    expect((await fetch(`http://127.0.0.1:${port}/work/after`)).status).toBe(200)
    expect(ran).toEqual(['first', 'after'])
    expect(app.loadShedding.stats()).toMatchObject({ inFlight: 0, queued: 0 })
  })

  it('gives a waiting request\'s place in line back as soon as its client leaves', async () => {
    current = await sheddingApp({ loopLag: false, pressure: false, limit: 1, maxQueue: 5, maxQueueWaitMs: 10_000 })
    const { app } = current
    const gate = deferred()
    app.get('/slow', async () => { await gate.promise; return {} })
    const port = await listen(app)
    const first = fetch(`http://127.0.0.1:${port}/slow`)
    await waitFor(() => app.loadShedding.stats().inFlight === 1)
    const socket = rawGet(port, '/slow')
    await waitFor(() => app.loadShedding.stats().queued === 1)
    socket.destroy()
    await waitFor(() => app.loadShedding.stats().queued === 0)
    gate.resolve()
    expect((await first).status).toBe(200)
    expect(app.loadShedding.stats()).toMatchObject({ inFlight: 0, admitted: 1 })
  })

  it('takes no slot for a request whose client left during an earlier onRequest hook', async () => {
    current = await sheddingApp({ loopLag: false, pressure: false, limit: 1, maxQueue: 0 })
    const { app } = current
    const inAuth = deferred<Socket>()
    const authDone = deferred()
    app.addHook('onRequest', async (request) => {
      if (request.url !== '/after') {
        inAuth.resolve(request.socket)
        await authDone.promise
      }
    })
    app.get('/slow', async () => ({}))
    app.get('/after', async () => ({ after: true }))
    const port = await listen(app)
    const socket = rawGet(port, '/slow')
    const serverSide = await inAuth.promise
    socket.destroy()
    // The server has seen the client leave while the earlier hook still runs.
    await waitFor(() => serverSide.destroyed)
    authDone.resolve()
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(app.loadShedding.stats()).toMatchObject({ inFlight: 0, admitted: 0 })
    expect((await fetch(`http://127.0.0.1:${port}/after`)).status).toBe(200)
  })
})
