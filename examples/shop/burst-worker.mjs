// Sends waves of concurrent GET requests from its own thread, so that they
// reach the server while its event loop is busy, as traffic from other
// processes does. workerData: { port, paths, waves }; posts back the results.
import { Agent, request } from 'node:http'
import { parentPort, workerData } from 'node:worker_threads'

const { port, paths, waves } = workerData
const agent = new Agent({ keepAlive: true, maxSockets: paths.length })

function get (path) {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, agent }, (res) => {
      let body = ''
      res.on('data', (chunk) => { body += chunk })
      res.on('end', () => resolve({ path, status: res.statusCode, retryAfter: res.headers['retry-after'] ?? null, body }))
    })
    req.on('error', (error) => resolve({ path, status: 0, retryAfter: null, body: String(error) }))
    req.end()
  })
}

const results = []
for (let wave = 0; wave < waves; wave++) results.push(...await Promise.all(paths.map(get)))
agent.destroy()
parentPort.postMessage(results)
