import { generateKeyPairSync, sign } from 'node:crypto'
import t from 'tap'
import { interactionKey, MAX_SKEW_SECONDS, verifyInteraction } from '../../../plugins/discord/inbound/verify.js'

const pair = generateKeyPairSync('ed25519')
const other = generateKeyPairSync('ed25519')
const publicHex = Buffer.from(pair.publicKey.export({ format: 'jwk' }).x!, 'base64url').toString('hex')
const key = interactionKey(publicHex)

const now = 1_800_000_000_000
const ts = String(now / 1000)
const body = Buffer.from('{"type":1,"id":"1"}')
const signature = (timestamp: string, raw: Buffer, privateKey = pair.privateKey) =>
  sign(null, Buffer.concat([Buffer.from(timestamp), raw]), privateKey).toString('hex')

t.test('a request Discord signed is accepted', async t => {
  t.same(verifyInteraction({ signature: signature(ts, body), timestamp: ts, rawBody: body }, key, now), { ok: true })
  t.same(
    verifyInteraction({ signature: signature(ts, body).toUpperCase(), timestamp: ts, rawBody: body }, key, now),
    { ok: true },
    'hex case does not matter'
  )
})

t.test('each refusal has its own reason', async t => {
  const good = signature(ts, body)
  const cases: [string, Parameters<typeof verifyInteraction>[0], string][] = [
    ['no signature', { signature: undefined, timestamp: ts, rawBody: body }, 'signature-missing'],
    ['no timestamp', { signature: good, timestamp: undefined, rawBody: body }, 'timestamp-missing'],
    ['a fractional timestamp', { signature: good, timestamp: `${ts}.5`, rawBody: body }, 'timestamp-malformed'],
    [
      'a signature of the wrong length',
      { signature: good.slice(2), timestamp: ts, rawBody: body },
      'signature-malformed'
    ],
    [
      'a signature that is not hex',
      { signature: `zz${good.slice(2)}`, timestamp: ts, rawBody: body },
      'signature-malformed'
    ],
    [
      'the body changed after signing',
      { signature: good, timestamp: ts, rawBody: Buffer.from('{"type":1,"id":"2"}') },
      'signature-wrong'
    ],
    [
      'signed by another key',
      { signature: signature(ts, body, other.privateKey), timestamp: ts, rawBody: body },
      'signature-wrong'
    ],
    [
      'the timestamp swapped for another signed one',
      { signature: good, timestamp: String(Number(ts) - 1), rawBody: body },
      'signature-wrong'
    ]
  ]
  for (const [what, request, reason] of cases) t.same(verifyInteraction(request, key, now), { ok: false, reason }, what)
})

t.test('stale and future timestamps are refused, even when signed, by the injected clock', async t => {
  const old = String(now / 1000 - MAX_SKEW_SECONDS - 1)
  t.same(verifyInteraction({ signature: signature(old, body), timestamp: old, rawBody: body }, key, now), {
    ok: false,
    reason: 'timestamp-stale'
  })
  const ahead = String(now / 1000 + MAX_SKEW_SECONDS + 1)
  t.same(verifyInteraction({ signature: signature(ahead, body), timestamp: ahead, rawBody: body }, key, now), {
    ok: false,
    reason: 'timestamp-stale'
  })
  const edge = String(now / 1000 - MAX_SKEW_SECONDS)
  t.same(
    verifyInteraction({ signature: signature(edge, body), timestamp: edge, rawBody: body }, key, now),
    { ok: true },
    'exactly at the bound is still accepted'
  )
  t.same(
    verifyInteraction({ signature: signature(old, body), timestamp: old, rawBody: body }, key, now - 10_000),
    { ok: true },
    'the same request is fine at the time it was signed'
  )
})

t.test('a public key that is not 64 hex characters is refused at start', async t => {
  t.throws(() => interactionKey('abc'), /64 hexadecimal/)
  t.throws(() => interactionKey(publicHex.replace(/^../, 'zz')), /64 hexadecimal/)
})
