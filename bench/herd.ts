import got from 'got'
import { Agent, RetryAgent, request as undiciRequest } from 'undici'
import { startTarget } from './harness.js'
import { Report } from './report.js'
import { HERD_WORK_MS } from './workloads.js'

/*
 * A herd: clients sent at once to a route that computes for milliseconds,
 * each client as its users make it, with the retries it has by default,
 * which honour Retry-After on a 503. Against bare Fastify (everyone served
 * in turn), load shedding with its defaults, and load shedding answering
 * its refusals at once (retryAfter.spreadMs: 0), as it did before they
 * were spread: clients refused in one turn then came back in one turn.
 */

const report = new Report('herd', 'npm run bench:herd')

const HERD = 300
const HERD_ROUNDS = 2
/** Each client as its users make it: default retries, which honour Retry-After on a 503. */
const HERD_CLIENTS: ReadonlyArray<[name: string, send: (url: string) => Promise<number>]> = [
  ['got (2 retries)', async (url) => (await got(url, { throwHttpErrors: false })).statusCode],
  ['undici RetryAgent (5 retries)', async (url) => {
    const response = await undiciRequest(url, { dispatcher: herdAgent })
    await response.body.dump()
    return response.statusCode
  }],
]
const herdAgent = new RetryAgent(new Agent({ connections: HERD }))

/** Sends HERD requests at once with `send`; how many were served (200) and how long until every one was answered. */
async function herd (url: string, send: (url: string) => Promise<number>): Promise<{ served: number, seconds: number }> {
  const startedAt = performance.now()
  const statuses = await Promise.all(Array.from({ length: HERD }, async () => await send(url).catch(() => 0)))
  return { served: statuses.filter((status) => status === 200).length, seconds: (performance.now() - startedAt) / 1000 }
}

async function herdScenario (): Promise<void> {
  const command = 'npm run bench:herd'
  const table = report.table(`Herd: ${HERD} clients at once on a route that computes for ${HERD_WORK_MS} ms (${HERD * HERD_WORK_MS / 1000} s of work), each client with its default retries, which honour Retry-After; a fresh server per round, ${HERD_ROUNDS} rounds`,
    ['client', 'server', 'served (each round)', 'all answered after (each round)'], command)
  const servers = [['no shedding', 'bare', []], ['load shedding (defaults)', 'load-shedding', []], ['load shedding, refusals answered at once (spreadMs: 0)', 'load-shedding', ['unspread=1']]] as const
  for (const [clientName, send] of HERD_CLIENTS) {
    for (const [serverName, variant, settings] of servers) {
      const rounds: Array<{ served: number, seconds: number }> = []
      for (let round = 0; round < HERD_ROUNDS; round++) {
        const target = await startTarget(variant, settings)
        try {
          rounds.push(await herd(`http://127.0.0.1:${target.port}/work/herd`, send))
        } finally {
          await target.stop()
        }
      }
      table.row([clientName, serverName, rounds.map((result) => `${result.served} of ${HERD}`).join(', '), rounds.map((result) => `${result.seconds.toFixed(1)} s`).join(', ')])
      if (variant === 'load-shedding' && settings.length === 0) {
        const worst = Math.min(...rounds.map((result) => result.served))
        report.target(`herd of ${HERD}, ${clientName}: served`, '≥ 95 % in every round', `${(100 * worst / HERD).toFixed(0)} % (worst round)`, worst >= 0.95 * HERD, command)
      }
    }
  }
  table.end()
  await herdAgent.close()
}

await herdScenario()
