import { Agent, request as httpRequest } from 'node:http'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import { afterEach, describe, expect, it } from 'vitest'
import resilience from '../../plugins/index.js'
import { listen } from '../helpers/listen.js'

// A full collection on demand, so that the test can tell whether anything
// still holds a request once it has been answered.
setFlagsFromString('--expose-gc')
const collectGarbage = runInNewContext('gc') as () => void

let app: FastifyInstance | undefined
let agent: Agent | undefined
afterEach(async () => {
  agent?.destroy()
  await app?.close()
})

/** GET over the given agent (Node's own keep-alive client); resolves with the status. */
function get (port: number, path: string, through: Agent): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, agent: through }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode ?? 0))
    })
    req.on('error', reject)
    req.end()
  })
}

describe('a keep-alive connection that carries requests answered 504', () => {
  it('keeps none of them alive once they are answered, while the connection stays open', async () => {
    app = Fastify()
    await app.register(resilience, { loadShedding: false, deadlines: { defaultTimeoutMs: 30 } })
    const answered: Array<WeakRef<object>> = []
    const sockets = new Set<object>()
    app.get('/hang', async (request) => {
      answered.push(new WeakRef(request))
      sockets.add(request.raw.socket)
      await new Promise((resolve) => request.deadline.signal.addEventListener('abort', resolve))
    })
    app.get('/ok', async (request) => {
      sockets.add(request.raw.socket)
      return { ok: true }
    })
    const port = await listen(app)
    agent = new Agent({ keepAlive: true, maxSockets: 1 })
    const statuses: number[] = []
    for (let i = 0; i < 5; i++) statuses.push(await get(port, '/hang', agent))
    // One more request on the same connection: it is no longer the first ones' current response.
    statuses.push(await get(port, '/ok', agent))
    expect(statuses).toEqual([504, 504, 504, 504, 504, 200])
    expect(sockets.size).toBe(1)
    await new Promise((resolve) => setImmediate(resolve))
    collectGarbage()
    expect(answered.filter((ref) => ref.deref() !== undefined)).toHaveLength(0)
  })
})
