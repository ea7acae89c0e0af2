// The floor for intake: a bare Fastify answering POST /webhook with JSON parsing only.
import Fastify from 'fastify'

const app = Fastify({ logger: false })
app.post('/webhook', async () => ({ code: 200, msg: 'success' }))
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT) })
console.log('ready')
