import t, { type Test } from 'tap'
import { FakeRelay } from '../helpers/fake-relay.js'
import { post, seed, testApp } from '../helpers/app.js'
import { postgresOrSkip } from '../helpers/postgres.js'

// What is accepted can be delivered: ids every store and relay keeps as the same text, times every
// relay can show; otherwise a 400 naming the field. Free text is made well-formed before it is
// stored, so that SQLite and PostgreSQL keep the same thing. Run on both stores.

const ADMIN = 'admin-token-0123456789'

type StoreConfig = () => Promise<Record<string, unknown> | undefined>
const stores: [string, (t: Test) => ReturnType<StoreConfig>][] = [
  ['SQLite', async () => ({})],
  [
    'PostgreSQL',
    async t => {
      const db = await postgresOrSkip(t)
      if (!db) return undefined
      return { store: { driver: 'postgres', url: db.url, schema: await db.schema(t) } }
    }
  ]
]

const refused: { name: string; body: Record<string, unknown>; msg: RegExp }[] = [
  {
    name: 'a message_id with a lone high surrogate',
    body: { message_id: 'pgdup\ud800' },
    msg: /^body\/message_id must not contain lone UTF-16 surrogates/
  },
  {
    name: 'a message_id with a lone low surrogate',
    body: { message_id: 'x\udc00y' },
    msg: /^body\/message_id must not contain lone UTF-16 surrogates/
  },
  {
    name: 'a conversation_id with a lone surrogate',
    body: { conversation_id: 'conv\ud801' },
    msg: /^body\/conversation_id must not contain lone UTF-16 surrogates/
  },
  {
    name: 'a conversation_id with a newline',
    body: { conversation_id: 'c1\n── forged header' },
    msg: /^body\/conversation_id must not contain control characters/
  },
  {
    name: 'a message_id with an escape character',
    body: { message_id: 'm\u001b[2J' },
    msg: /^body\/message_id must not contain control characters/
  },
  {
    name: 'create_time 1e16',
    body: { create_time: 1e16 },
    msg: /^body\/create_time must be a time before the year 10000/
  },
  {
    name: 'create_time 1e308',
    body: { create_time: 1e308 },
    msg: /^body\/create_time must be a time before the year 10000/
  },
  {
    name: 'create_time in seconds past 9999',
    body: { create_time: 253402300800 },
    msg: /^body\/create_time must be a time before the year 10000: at most 253402300799 \(seconds\) or 253402300799999 \(milliseconds\)$/
  }
]

for (const [storeName, storeConfig] of stores) {
  t.test(`on ${storeName}`, async t => {
    const setup = async (t: Test) => {
      const config = await storeConfig(t)
      if (!config) return undefined
      const relay = new FakeRelay()
      const app = await testApp(t, {
        relays: new Map([['fake', relay]]),
        config: { ...config, admin: { token: ADMIN } }
      })
      return { app, relay }
    }

    for (const c of refused) {
      t.test(`${c.name}: 400 BODY_INVALID naming the field, nothing stored`, async t => {
        const made = await setup(t)
        if (!made) return
        const res = await post(made.app, seed({ message_id: 'm-refused', ...c.body }))
        t.equal(res.statusCode, 400, res.body)
        t.equal(res.headers['x-relay-error'], 'BODY_INVALID')
        t.match(res.json(), { code: 400, msg: c.msg })
        await made.app.relay.dispatcher.drain()
        t.equal(made.relay.delivered.length, 0)
      })
    }

    t.test('V2: create_time 1e16 is refused the same way', async t => {
      const made = await setup(t)
      if (!made) return
      const res = await post(made.app, {
        message_id: 'v2-late',
        conversation_id: 'c',
        create_time: 1e16,
        output: [{ content: { text: 'hi' } }]
      })
      t.equal(res.statusCode, 400)
      t.match(res.json().msg, /^body\/create_time must be a time before the year 10000/)
    })

    t.test('ids "pgdup\\ud800" and "pgdup\\ud801" are refused, never taken as one', async t => {
      const made = await setup(t)
      if (!made) return
      for (const id of ['pgdup\ud800', 'pgdup\ud801']) {
        const res = await post(made.app, seed({ message_id: id, text: id }))
        t.equal(res.statusCode, 400)
      }
      t.equal(made.relay.delivered.length, 0)
    })

    t.test('text with lone surrogates is kept with U+FFFD in their place, and delivered', async t => {
      const made = await setup(t)
      if (!made) return
      const res = await post(
        made.app,
        seed({
          message_id: 'lone-text',
          conversation_id: 'c-lone',
          text: 'a\ud800b\udc00c 😀',
          flow_output: [{ content: 'x\udbff', branch: '\udfff', from_component_name: 'n\ud83d' }]
        })
      )
      t.equal(res.statusCode, 200, res.body)
      await made.app.relay.dispatcher.drain()
      t.equal(made.relay.delivered.length, 1)
      const delivered = made.relay.delivered[0]!
      t.equal(delivered.text, 'a\ufffdb\ufffdc 😀', 'a surrogate pair is kept, lone halves are replaced')
      t.match(delivered.flowOutput[0], { content: 'x\ufffd', branch: '\ufffd', componentName: 'n\ufffd' })
      const listed = await made.app.inject({
        method: 'GET',
        url: '/admin/conversations/default/c-lone/messages',
        headers: { authorization: `Bearer ${ADMIN}` }
      })
      t.equal(listed.statusCode, 200, listed.body)
      t.equal(listed.json().messages[0].message.text, 'a\ufffdb\ufffdc 😀', 'the store kept the same text')
    })

    t.test('ids above U+00FF and the latest allowed time are accepted and delivered', async t => {
      const made = await setup(t)
      if (!made) return
      const res = await post(
        made.app,
        seed({ message_id: 'Ω-消息-😀', conversation_id: 'talk-ü', create_time: 253402300799999 })
      )
      t.equal(res.statusCode, 200, res.body)
      await made.app.relay.dispatcher.drain()
      t.match(made.relay.delivered[0], { messageId: 'Ω-消息-😀', createdAt: 253402300799999 })
    })
  })
}

t.test('withWellFormedText fixes lone surrogates at any depth and returns clean values as they are', async t => {
  const { withWellFormedText } = await import('../../src/intake/deliverable.js')
  const clean = { text: 'hi 😀', flow: [{ content: '你好', n: 1 }], none: null }
  t.equal(withWellFormedText(clean), clean, 'a clean message is not copied')
  const broken = { text: 'ok', flow: [{ content: 'a\ud800b' }, { content: 'fine' }] }
  const fixed = withWellFormedText(broken)
  t.same(fixed, { text: 'ok', flow: [{ content: 'a\ufffdb' }, { content: 'fine' }] }, 'the lone half is U+FFFD')
  t.equal(broken.flow[0]!.content, 'a\ud800b', 'the original is left as it was')
  t.equal(fixed.flow[1], broken.flow[1], 'clean parts are shared, not copied')
})
