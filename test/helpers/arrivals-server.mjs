// The receiver of the reliability tests' traffic, in a process of its own: it answers every POST
// from the http-forwarder with 200 at once and prints one line per request, "<ms> <attempt>
// <conversationId> <messageId>", with the time it arrived. Apart from the test process (which
// also runs the load and tap), a busy test process cannot delay the answers or the arrival times.
// Plain JavaScript, so that it starts without a TypeScript loader. Prints "listening <port>" first.
import { createServer } from 'node:http'

const server = createServer((request, response) => {
  const chunks = []
  request.on('data', chunk => chunks.push(chunk))
  request.on('end', () => {
    const at = Date.now()
    response.writeHead(200).end()
    try {
      const { conversationId, messageId } = JSON.parse(Buffer.concat(chunks).toString('utf8'))
      process.stdout.write(`${at} ${request.headers['x-relay-attempt'] ?? '-'} ${conversationId} ${messageId}\n`)
    } catch {
      process.stdout.write(`${at} - - -\n`)
    }
  })
})
server.listen(0, '127.0.0.1', () => process.stdout.write(`listening ${server.address().port}\n`))
// The test ends this process; it also ends when the test process goes away.
process.stdin.resume()
process.stdin.on('end', () => process.exit(0))
