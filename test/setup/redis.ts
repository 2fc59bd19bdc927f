import type { TestProject } from 'vitest/node'
import { startRedisServer } from '../helpers/redis-server.js'

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string
  }
}

/**
 * Gives every test file the URL of a real Redis: REDIS_URL when it is set,
 * otherwise a redis-server started here on a free port and stopped when the
 * run ends.
 */
export default async function setup (project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const configured = process.env.REDIS_URL
  if (configured !== undefined && configured !== '') {
    project.provide('redisUrl', configured)
    return undefined
  }
  const server = await startRedisServer()
  project.provide('redisUrl', server.url)
  return server.stop
}
