import Fastify from 'fastify'
import type { FastifyInstance, FastifyServerOptions } from 'fastify'
import { Writable } from 'node:stream'

export interface LogLine {
  level: number
  msg: string
  reqId?: string
  err?: { message?: string, stack?: string, type?: string }
  [key: string]: unknown
}

export interface TestApp {
  app: FastifyInstance
  logs: LogLine[]
}

/** A Fastify app whose JSON log lines are collected for assertions. */
export function createTestApp (options: FastifyServerOptions = {}): TestApp {
  const logs: LogLine[] = []
  const stream = new Writable({
    write (chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString().split('\n')) {
        if (line.trim() !== '') logs.push(JSON.parse(line) as LogLine)
      }
      callback()
    },
  })
  const app = Fastify({ logger: { level: 'debug', stream }, ...options })
  return { app, logs }
}

export const LOG_LEVEL = { debug: 20, info: 30, warn: 40, error: 50 } as const
