import { connect } from 'node:net'
import type { Socket } from 'node:net'

/**
 * Sends bytes over a fresh TCP connection and resolves with everything the
 * server wrote until it closed the connection, unparsed, so tests can see
 * exactly what went over the wire.
 */
export async function rawExchange (port: number, bytes: string | Buffer): Promise<string> {
  return await new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    socket.on('data', (chunk: Buffer) => chunks.push(chunk))
    socket.on('error', reject)
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')))
    socket.end(bytes)
  })
}

/** Sends a GET over a raw connection that the test can drop mid-request. */
export function rawGet (port: number, path: string): Socket {
  const socket = connect(port, '127.0.0.1')
  socket.on('error', () => {})
  socket.write(`GET ${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`)
  return socket
}
