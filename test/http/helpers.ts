import { connect, type Socket } from 'node:net'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import type { Test } from 'tap'
import { testApp, type TestAppOptions } from '../helpers/app.js'

/** The app listening on loopback, with what the server read from each connection once it closed. */
export async function listening(t: Test, options: TestAppOptions = {}) {
  const app = await testApp(t, options)
  await app.listen({ host: '127.0.0.1', port: 0 })
  const port = (app.server.address() as AddressInfo).port
  const read: number[] = []
  app.server.on('connection', (socket: Socket) => socket.once('close', () => read.push(socket.bytesRead)))
  return { app, port, read }
}

export interface RawAnswer {
  /** Everything the server sent, as text. */
  text: string
  status: number
  headers: Record<string, string>
  body: unknown
  /** The server closed the connection (the client did not have to). */
  closedByServer: boolean
  error?: string
}

/** Parses the first HTTP answer in `text`; status 0 when there is none. */
export function parseAnswer(text: string): Pick<RawAnswer, 'status' | 'headers' | 'body'> {
  const end = text.indexOf('\r\n\r\n')
  if (end < 0) return { status: 0, headers: {}, body: undefined }
  const [statusLine, ...lines] = text.slice(0, end).split('\r\n')
  const headers: Record<string, string> = {}
  for (const line of lines) {
    const colon = line.indexOf(':')
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
  }
  const length = Number(headers['content-length'] ?? 0)
  const raw = text.slice(end + 4, end + 4 + length)
  let body: unknown = raw
  try {
    body = JSON.parse(raw)
  } catch {
    /* left as text */
  }
  return { status: Number(statusLine!.split(' ')[1]), headers, body }
}

/** Whether `text` holds one whole answer (headers and a body of its Content-Length). */
const complete = (text: string) => {
  const end = text.indexOf('\r\n\r\n')
  if (end < 0) return false
  const length = /\r\ncontent-length:\s*(\d+)/i.exec(text.slice(0, end))
  return length !== null && text.length >= end + 4 + Number(length[1])
}

/**
 * Sends `data` on a fresh connection and collects what comes back until the server closes it or,
 * with `untilAnswer`, until one whole answer has come (then the client closes).
 */
export function rawRequest(port: number, data: string | Buffer, options: { untilAnswer?: boolean } = {}) {
  return new Promise<RawAnswer>(resolve => {
    const socket = connect(port, '127.0.0.1')
    let text = ''
    let error: string | undefined
    let closedByServer = true
    socket.on('data', chunk => {
      text += chunk.toString('latin1')
      if (options.untilAnswer && complete(text)) {
        closedByServer = false
        socket.destroy()
      }
    })
    socket.on('error', e => {
      error = (e as NodeJS.ErrnoException).code ?? e.message
    })
    socket.on('close', () => resolve({ text, ...parseAnswer(text), closedByServer, error }))
    socket.write(data)
  })
}

/** An HTTP/1.1 request as bytes. */
export function request(method: string, path: string, headers: Record<string, string | number>, body = ''): string {
  const lines = [`${method} ${path} HTTP/1.1`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)]
  return `${lines.join('\r\n')}\r\n\r\n${body}`
}

export type { FastifyInstance }
