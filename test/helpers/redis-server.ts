import { spawn, spawnSync } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import type { EventEmitter } from 'node:events'
import { createServer } from 'node:net'

export const REDIS_INSTALL_HINT =
  'redis-server was not found on PATH. Install it (Debian/Ubuntu: `apt-get install redis-server`, macOS: `brew install redis`) ' +
  'or point REDIS_URL at a Redis server the tests may use, e.g. REDIS_URL=redis://127.0.0.1:6379'

export function hasRedisServer (): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0
}

export async function freePort (): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const address = server.address()
  server.close()
  await once(server, 'close')
  if (address === null || typeof address === 'string') throw new TypeError('no TCP address for a free port')
  return address.port
}

export interface RedisServerHandle {
  url: string
  port: number
  stop: () => Promise<void>
  /** Freezes (SIGSTOP) or thaws (SIGCONT) the server: connections stay open and nothing answers meanwhile. */
  freeze: (frozen: boolean) => void
}

/**
 * Starts a throwaway redis-server on a free loopback port (or the one
 * given) with persistence off unless `extraArgs` turn it on, and resolves
 * once it accepts connections.
 */
export async function startRedisServer (extraArgs: readonly string[] = [], fixedPort?: number): Promise<RedisServerHandle> {
  if (!hasRedisServer()) throw new Error(REDIS_INSTALL_HINT)
  const port = fixedPort ?? await freePort()
  const child = spawn('redis-server', [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--save', '',
    '--appendonly', 'no',
    ...extraArgs,
  ], { stdio: ['ignore', 'pipe', 'pipe'] })
  await waitUntilReady(child, port)
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return
      const exited = once(child, 'exit')
      // A frozen server would never act on SIGTERM.
      child.kill('SIGCONT')
      child.kill('SIGTERM')
      await exited
    },
    freeze: (frozen) => { child.kill(frozen ? 'SIGSTOP' : 'SIGCONT') },
  }
}

async function waitUntilReady (child: ChildProcess, port: number): Promise<void> {
  let output = ''
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`redis-server on port ${port} did not start within 10 s:\n${output}`)), 10_000)
    const onData = (chunk: Buffer): void => {
      output += chunk.toString()
      if (output.includes('Ready to accept connections')) {
        clearTimeout(timer)
        child.stdout?.off('data', onData)
        child.stdout?.resume()
        child.stderr?.resume()
        resolve()
      }
    }
    const fail = (error: Error): void => {
      clearTimeout(timer)
      child.kill('SIGKILL')
      reject(error)
    }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', (chunk: Buffer) => { output += chunk.toString() })
    child.once('exit', (code) => fail(new Error(`redis-server exited with code ${String(code)} before it was ready:\n${output}`)))
    child.once('error', fail)
  })
}

/**
 * Stops `server` under a connected client and resolves once the client has
 * heard its connection close: until it does, it still reports itself ready.
 */
export async function stopUnder (server: RedisServerHandle, client: EventEmitter): Promise<void> {
  const closed = once(client, 'close')
  await server.stop()
  await closed
}
