import { once } from 'node:events'
import { Worker } from 'node:worker_threads'

export interface BurstResult { path: string, status: number, retryAfter: string | null, body: string }

/**
 * Sends `waves` waves of concurrent GETs, one per path, from a worker
 * thread: a client on the server's own event loop could only send between
 * the server's turns, never while one runs.
 */
export async function burst (port: number, paths: string[], waves: number): Promise<BurstResult[]> {
  const worker = new Worker(new URL('./burst-worker.mjs', import.meta.url), { workerData: { port, paths, waves } })
  const [results] = await once(worker, 'message') as [BurstResult[]]
  await worker.terminate()
  return results
}
