import { connect } from 'node:net'

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
