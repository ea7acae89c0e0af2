import { createServer } from 'node:net'

/**
 * Why the relay could not start, in one line a person can act on. The CLI prints the message
 * alone (no stack) and exits non-zero.
 */
export class StartupError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'StartupError'
  }
}

export interface ListenTarget {
  host: string
  port: number
  /** The config file, to name where server.port and server.host are set. */
  file?: string
  /** Whether the PORT environment variable chose the port. */
  portFromEnv: boolean
}

/** The sentence for a failed listen, by the system's error code. */
export function listenProblem(error: unknown, target: ListenTarget): string {
  const code = (error as { code?: string }).code
  const { host, port } = target
  const where = target.file ? `server.port in ${target.file}` : 'server.port in the config'
  const chosenBy = target.portFromEnv ? ' (chosen by the PORT environment variable)' : ''
  switch (code) {
    case 'EADDRINUSE':
      return `port ${port}${chosenBy} is already in use on ${host} by another program: stop that program, or choose another port with the PORT environment variable (for example PORT=8081) or ${where}`
    case 'EACCES':
      return `no permission to listen on port ${port}${chosenBy} on ${host}: ports below 1024 need root or the CAP_NET_BIND_SERVICE capability; choose a port of 1024 or above with the PORT environment variable or ${where}, and put a reverse proxy in front for port 80 or 443`
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_NONAME':
      return `server.host "${host}" is not a name this machine can resolve: use 0.0.0.0 (every interface), 127.0.0.1 (this machine only) or one of this machine's addresses`
    case 'EADDRNOTAVAIL':
      return `server.host "${host}" is not an address of this machine: use 0.0.0.0 (every interface), 127.0.0.1 (this machine only) or one of this machine's addresses`
    default:
      return `cannot listen on ${host} port ${port}: ${(error as Error).message}`
  }
}

/**
 * Binds the address once and lets it go, so that a taken port or a bad host is reported before
 * the store is opened and the relays connect, which can take seconds. The real listen can still
 * fail (another program may take the port in between) and is reported the same way.
 */
export function probeListen(target: ListenTarget): Promise<void> {
  return new Promise((done, fail) => {
    const server = createServer()
    server.once('error', error => fail(new StartupError(listenProblem(error, target), { cause: error })))
    server.listen({ host: target.host, port: target.port, exclusive: true }, () => server.close(() => done()))
  })
}
