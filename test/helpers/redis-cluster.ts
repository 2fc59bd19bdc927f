import { execFile } from 'node:child_process'
import { createServer } from 'node:net'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { Cluster, Redis } from 'ioredis'
import { freePort, startRedisServer } from './redis-server.js'
import type { RedisServerHandle } from './redis-server.js'
import { afterAll, beforeAll } from 'vitest'

const run = promisify(execFile)

export interface RedisClusterHandle {
  nodes: Array<{ host: string, port: number }>
  stop: () => Promise<void>
}

async function isFree (port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
  })
}

/** A free port whose cluster bus port (+10000) is free as well. */
async function clusterPort (): Promise<number> {
  for (;;) {
    const port = await freePort()
    if (port + 10_000 <= 65_535 && await isFree(port + 10_000)) return port
  }
}

/**
 * Starts a Redis Cluster of three masters (no replicas) on loopback with
 * redis-server --cluster-enabled and redis-cli --cluster create.
 */
export async function startRedisCluster (): Promise<RedisClusterHandle> {
  const dir = mkdtempSync(join(tmpdir(), 'frs-cluster-'))
  const servers: RedisServerHandle[] = []
  try {
    for (let index = 0; index < 3; index++) {
      const port = await clusterPort()
      servers.push(await startRedisServer(['--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--dir', dir, '--cluster-node-timeout', '2000'], port))
    }
    await run('redis-cli', ['--cluster', 'create', ...servers.map((server) => `127.0.0.1:${server.port}`), '--cluster-replicas', '0', '--cluster-yes'])
    for (const server of servers) {
      const client = new Redis(server.port, '127.0.0.1')
      try {
        for (let attempt = 0; attempt < 100; attempt++) {
          const info = await client.cluster('INFO')
          if (String(info).includes('cluster_state:ok')) break
          await new Promise((resolve) => setTimeout(resolve, 100))
        }
      } finally {
        client.disconnect()
      }
    }
  } catch (error) {
    await Promise.all(servers.map((server) => server.stop()))
    rmSync(dir, { recursive: true, force: true })
    throw error
  }
  return {
    nodes: servers.map((server) => ({ host: '127.0.0.1', port: server.port })),
    stop: async () => {
      await Promise.all(servers.map((server) => server.stop()))
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/**
 * Starts a cluster before the tests of the calling file and stops it after
 * them; the returned function gives the connected client.
 */
export function useRedisCluster (): () => Cluster {
  let cluster: RedisClusterHandle | undefined
  let client: Cluster | undefined
  beforeAll(async () => {
    cluster = await startRedisCluster()
    client = new Cluster(cluster.nodes, { redisOptions: { maxRetriesPerRequest: 1 } })
    await client.ping()
  }, 60_000)
  afterAll(async () => {
    client?.disconnect()
    await cluster?.stop()
  })
  return () => {
    if (client === undefined) throw new Error('the Redis Cluster is not started yet')
    return client
  }
}
