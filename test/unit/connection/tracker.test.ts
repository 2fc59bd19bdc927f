import { once } from 'node:events'
import { createServer, connect } from 'node:net'
import type { Socket } from 'node:net'
import { describe, expect, it } from 'vitest'
import { ConnectionTracker } from '../../../src/connection/tracker.js'

async function socketPair (): Promise<{ server: Socket, client: Socket, close: () => void }> {
  const listener = createServer()
  listener.listen(0, '127.0.0.1')
  await once(listener, 'listening')
  const { port } = listener.address() as { port: number }
  const client = connect(port, '127.0.0.1')
  const [server] = await once(listener, 'connection') as [Socket]
  return { server, client, close: () => { client.destroy(); server.destroy(); listener.close() } }
}

describe('ConnectionTracker', () => {
  it('calls back for the items still tracked when their connection closes', async () => {
    const closed: string[] = []
    const tracker = new ConnectionTracker<string>((item) => closed.push(item))
    const { server, client, close } = await socketPair()
    tracker.add(server, 'a')
    tracker.add(server, 'b')
    tracker.add(server, 'c')
    tracker.delete(server, 'b')
    expect(tracker.count(server)).toBe(2)
    expect(server.listenerCount('close')).toBe(1)
    client.destroy()
    await once(server, 'close')
    expect(closed).toEqual(['a', 'c'])
    expect(tracker.count(server)).toBe(0)
    close()
  })

  it('an item added to a connection that is already gone is called back at once', async () => {
    const closed: string[] = []
    const tracker = new ConnectionTracker<string>((item) => closed.push(item))
    const { server, close } = await socketPair()
    server.destroy()
    tracker.add(server, 'late')
    expect(closed).toEqual(['late'])
    close()
  })

  it('two trackers on one connection keep their items apart', async () => {
    const first: string[] = []
    const second: string[] = []
    const one = new ConnectionTracker<string>((item) => first.push(item))
    const two = new ConnectionTracker<string>((item) => second.push(item))
    const { server, client, close } = await socketPair()
    one.add(server, 'x')
    two.add(server, 'y')
    client.destroy()
    await once(server, 'close')
    expect([first, second]).toEqual([['x'], ['y']])
    close()
  })
})
