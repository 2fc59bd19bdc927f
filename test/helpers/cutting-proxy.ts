import { once } from 'node:events'
import { connect, createServer } from 'node:net'
import type { Socket } from 'node:net'

/**
 * Where the next command is cut off: `after-execution` lets it reach Redis
 * and drops Redis' reply (the client never learns that it ran),
 * `before-execution` drops the command itself (Redis never sees it).
 */
export type CutPoint = 'after-execution' | 'before-execution'

export interface CuttingProxy {
  /** The URL a client connects to instead of Redis'. */
  url: string
  /**
   * Cuts the next command a client sends through the proxy at `point`,
   * destroying both of its sockets, and resolves once it has. Armed while
   * the client is idle, so that the next command is the one the test sends.
   */
  cutNext: (point: CutPoint) => Promise<void>
  /** Connections the proxy has accepted so far. */
  readonly connections: number
  close: () => Promise<void>
}

/**
 * A TCP proxy in front of a Redis server that can cut a connection at a
 * chosen point of a command, as a network failure would.
 */
export async function startCuttingProxy (redisUrl: string): Promise<CuttingProxy> {
  const target = new URL(redisUrl)
  const sockets = new Set<Socket>()
  let armed: { point: CutPoint, done: () => void } | undefined
  let connections = 0
  const cutIfArmed = (point: CutPoint, cut: () => void, chunk: Buffer): boolean => {
    if (armed?.point !== point) return false
    // A script Redis does not know yet is answered NOSCRIPT and sent again
    // with its source: that first answer is not the one to lose.
    if (point === 'after-execution' && chunk.toString('latin1').startsWith('-NOSCRIPT')) return false
    const { done } = armed
    armed = undefined
    cut()
    done()
    return true
  }
  const server = createServer((downstream) => {
    connections++
    const upstream = connect(Number(target.port), target.hostname)
    sockets.add(downstream)
    sockets.add(upstream)
    const cut = (): void => {
      downstream.destroy()
      upstream.destroy()
    }
    for (const socket of [downstream, upstream]) {
      socket.on('error', () => {})
      socket.on('close', () => {
        sockets.delete(socket)
        cut()
      })
    }
    downstream.on('data', (chunk: Buffer) => {
      if (!cutIfArmed('before-execution', cut, chunk)) upstream.write(chunk)
    })
    // Redis answers only once it has run the command: the answer arriving
    // here is the proof that it did.
    upstream.on('data', (chunk: Buffer) => {
      if (!cutIfArmed('after-execution', cut, chunk)) downstream.write(chunk)
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const address = server.address()
  if (address === null || typeof address === 'string') throw new TypeError('no TCP address for the proxy')
  return {
    url: `redis://127.0.0.1:${address.port}`,
    cutNext: async (point) => {
      if (armed !== undefined) throw new Error('the proxy is already armed')
      await new Promise<void>((resolve) => { armed = { point, done: resolve } })
    },
    get connections () { return connections },
    close: async () => {
      for (const socket of sockets) socket.destroy()
      server.close()
      await once(server, 'close')
    },
  }
}
