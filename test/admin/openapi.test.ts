import t from 'tap'
import { post, seed, testApp } from '../helpers/app.js'

t.test('GET /openapi.json describes the webhook and admin routes, their schemas and security', async t => {
  const app = await testApp(t, { config: { admin: { token: 'admin-token-0123456789' } } })
  const res = await app.inject({ method: 'GET', url: '/openapi.json' })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /application\/json/)
  const doc = res.json()
  t.match(doc.openapi, /^3\.\d+\.\d+$/)
  t.match(doc.info, { title: 'gptbots-relay', version: /^\d+\.\d+\.\d+/ })
  t.match(doc.components.securitySchemes, {
    webhookBearer: { type: 'http', scheme: 'bearer' },
    webhookBasic: { type: 'http', scheme: 'basic' },
    adminToken: { type: 'http', scheme: 'bearer' }
  })

  const paths = doc.paths as Record<string, Record<string, any>>
  for (const [path, methods] of Object.entries({
    '/webhook': ['post'],
    '/webhook/{source}': ['post'],
    '/admin/conversations': ['get'],
    '/admin/conversations/{source}/{conversationId}/messages': ['get'],
    '/admin/conversations/{source}/{conversationId}/replay': ['post'],
    '/admin/dead-letters': ['get'],
    '/admin/dead-letters/replay': ['post'],
    '/admin/dead-letters/drop': ['post'],
    '/admin/dead-letters/{id}/replay': ['post'],
    '/admin/dead-letters/{id}': ['delete'],
    '/admin/reload': ['post']
  })) {
    t.ok(paths[path], `${path} is described`)
    for (const method of methods) t.ok(paths[path]?.[method], `${method} ${path}`)
  }
  t.notOk(paths['/openapi.json'], 'the document does not describe itself')

  const webhook = paths['/webhook']!.post
  t.same(webhook.security, [{ webhookBearer: [] }, { webhookBasic: [] }])
  const body = webhook.requestBody.content['application/json'].schema
  t.equal(body.anyOf.length, 2, 'V1 and V2')
  t.ok(body.anyOf.some((s: any) => s.properties?.message_type) && body.anyOf.some((s: any) => s.properties?.output))
  t.match(webhook.responses['200'].content['application/json'].schema, { properties: { code: {}, msg: {} } })
  t.match(paths['/webhook/{source}']!.post.parameters, [{ name: 'source', in: 'path', required: true }])

  const deadLetters = paths['/admin/dead-letters']!.get
  t.same(deadLetters.security, [{ adminToken: [] }])
  t.same(deadLetters.parameters.map((p: any) => `${p.in}:${p.name}`).sort(), [
    'query:afterId',
    'query:conversationId',
    'query:limit',
    'query:relay',
    'query:source'
  ])
  t.match(deadLetters.responses['200'].content['application/json'].schema.properties.deadLetters.items.properties, {
    id: { type: 'integer' },
    status: {},
    lastError: { type: 'string' }
  })
  t.match(paths['/admin/dead-letters/replay']!.post.requestBody.content['application/json'].schema, {
    required: ['relay']
  })
  t.match(paths['/admin/dead-letters/{id}']!.delete.parameters, [
    { name: 'id', in: 'path', schema: { type: 'integer' } }
  ])
  t.notMatch(JSON.stringify(doc), /~kind/, 'no TypeBox internals leak into the document')
})

t.test('with the document registered, intake still takes JSON strictly and nothing else', async t => {
  const app = await testApp(t)
  t.equal((await post(app, seed())).statusCode, 200)
  const text = await post(app, 'hello', { 'content-type': 'text/plain' })
  t.equal(text.statusCode, 415)
  t.equal(text.headers['x-relay-error'], 'MEDIA_TYPE')
  const proto = await post(app, '{"message_id":"m","__proto__":{"x":1}}')
  t.equal(proto.headers['x-relay-error'], 'BODY_NOT_JSON')
  t.equal(
    (await app.inject({ method: 'GET', url: '/openapi.json' })).statusCode,
    200,
    'open without the admin token: it holds no secrets'
  )
})
