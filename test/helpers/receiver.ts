import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Test } from 'tap'

export interface Received {
  headers: IncomingMessage['headers']
  body: string
}
export type Answer = (
  request: Received
) => { status: number; headers?: Record<string, string>; body?: string } | 'hang' | 'drop'

/** A real HTTP server on loopback that records what it receives and answers as told (200 by default). */
export async function receiver(t: Test, answer: Answer = () => ({ status: 200 })) {
  const received: Received[] = []
  const state = { answer }
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = []
    req.on('data', chunk => chunks.push(chunk))
    req.on('end', () => {
      const request = { headers: req.headers, body: Buffer.concat(chunks).toString('utf8') }
      const reply = state.answer(request)
      if (reply === 'hang') return
      if (reply === 'drop') {
        req.socket.destroy()
        return
      }
      if (reply.status < 300) received.push(request)
      res.writeHead(reply.status, reply.headers).end(reply.body ?? '')
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(
    () =>
      new Promise<void>(resolve => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  )
  const { port } = server.address() as AddressInfo
  return { url: `http://127.0.0.1:${port}/hook`, received, state }
}
