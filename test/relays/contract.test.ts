import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import Value from 'typebox/value'
import console from '../../plugins/console/index.js'
import discord from '../../plugins/discord/index.js'
import forwarder from '../../plugins/http-forwarder/index.js'
import slack from '../../plugins/slack/index.js'
import type { RelayPlugin } from '../../src/relays/types.js'
import { checkRelayContract, type ContractCheck, type RelayContractSubject } from '../../src/testing/index.js'
import { ChannelType, FakeDiscord } from '../fakes/discord.js'
import { FakeSlack, fakeChannel, fakeToken } from '../fakes/slack.js'

// Every built-in relay passes the contract suite that gptbots-relay/testing gives plugin authors.

/** A plugin's options with the schema's defaults filled in, as the loader does. */
const withDefaults = <P extends RelayPlugin>(plugin: P, options: object) =>
  Value.Default(plugin.options, structuredClone(options)) as never

function report(t: Test, checks: ContractCheck[], expected: string[]): void {
  for (const check of checks) t.ok(check.ok, check.name, { error: check.error })
  t.strictSame(
    checks.map(c => c.name),
    expected,
    'every check ran'
  )
}

const always = [
  'ready, when it has it, answers for a working platform',
  'delivers a conversation in order and reports what it posted',
  'keeps what it must remember in its state, through a restart'
]
const outcomes = (kinds: string[]) => kinds.map(kind => `answers ${kind} when the platform says so, and goes on after`)
const rest = [
  'gives up when the signal aborts',
  'a run of several, when it takes them, keeps to its limits and delivers a prefix in order',
  'a turn, when it takes turns, goes to the run that follows and is given back',
  'close, when it has it, resolves'
]

t.test('console', async t => {
  const written: string[] = []
  const write = process.stderr.write.bind(process.stderr)
  process.stderr.write = ((chunk: string | Uint8Array) => {
    written.push(String(chunk))
    return true
  }) as typeof process.stderr.write
  try {
    const checks = await checkRelayContract({
      create: init => console.create(withDefaults(console, { stream: 'stderr', color: false }), init),
      received: () => written
    })
    report(t, checks, [...always, ...rest])
  } finally {
    process.stderr.write = write
  }
})

t.test('http-forwarder', async t => {
  const bodies: string[] = []
  let next: 'ok' | 'busy' | 'refused' = 'ok'
  const stalled = new Set<ServerResponse>()
  let stalling = false
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = ''
    req.on('data', chunk => {
      body += chunk
    })
    req.on('end', () => {
      if (stalling) {
        stalled.add(res)
        return
      }
      const answer = next
      next = 'ok'
      if (answer === 'busy') return void res.writeHead(503).end('busy')
      if (answer === 'refused') return void res.writeHead(400).end('no')
      bodies.push(body)
      res.writeHead(200).end('ok')
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    server.closeAllConnections()
    server.close()
  })
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`
  const subject: RelayContractSubject = {
    create: init => forwarder.create(withDefaults(forwarder, { url, secret: 'contract-secret' }), init),
    received: () => bodies,
    failNext: {
      retry: () => {
        next = 'busy'
      },
      failed: () => {
        next = 'refused'
      }
    },
    stall: () => {
      stalling = true
      return () => {
        stalling = false
        for (const res of stalled) res.destroy()
        stalled.clear()
      }
    }
  }
  report(t, await checkRelayContract(subject), [...always, ...outcomes(['retry', 'failed']), ...rest])
})

t.test('slack, against the fake Slack', async t => {
  const fake = await FakeSlack.start({ rateLimit: false })
  t.teardown(() => fake.close())
  /** The next chat.postMessage answers this Slack error, once. */
  const refuseNext = (error: string) => {
    fake.on('chat.postMessage', () => {
      fake.on('chat.postMessage', undefined)
      return { body: { ok: false, error } }
    })
  }
  const subject: RelayContractSubject = {
    create: init =>
      slack.create(withDefaults(slack, { token: fakeToken, channel: fakeChannel, apiUrl: fake.apiUrl }), init),
    received: () => fake.messages.map(m => JSON.stringify(m)),
    failNext: {
      retry: () => fake.failNext(1, 500),
      failed: () => refuseNext('channel_not_found'),
      held: () => refuseNext('invalid_auth')
    }
  }
  report(t, await checkRelayContract(subject), [...always, ...outcomes(['retry', 'failed', 'held']), ...rest])
})

t.test('discord, against the fake Discord', async t => {
  const fake = await new FakeDiscord().start()
  t.teardown(() => fake.close())
  const channel = fake.addChannel(ChannelType.Text)
  const subject: RelayContractSubject = {
    create: init =>
      discord.create(withDefaults(discord, { token: fake.token, channel: channel.id, apiUrl: fake.api }), init),
    received: () => fake.requests.filter(r => r.status < 300 && r.method === 'POST').map(r => JSON.stringify(r.body)),
    failNext: {
      retry: () => fake.failNext(1, { status: 500 }),
      failed: () => fake.failNext(1, { status: 403 }),
      held: () => fake.failNext(1, { status: 401 })
    }
  }
  report(t, await checkRelayContract(subject), [...always, ...outcomes(['retry', 'failed', 'held']), ...rest])
})

t.test('a relay that breaks the contract fails the checks it breaks', async t => {
  const shown: string[] = []
  let failing = false
  const checks = await checkRelayContract(
    {
      create: () => ({
        // Shows messages newest first, ignores failures, never gives up on an aborted delivery,
        // and says it takes runs of none.
        async deliverRun([message], context) {
          if (failing) {
            failing = false
            return { delivered: [{ big: 'x'.repeat(5000) }] }
          }
          if (context.signal.aborted) return new Promise(() => {})
          shown.unshift(message?.text ?? '')
          return { delivered: [undefined] }
        },
        runLimits: { maxMessages: 0 }
      }),
      received: () => shown,
      failNext: {
        failed: () => {
          failing = true
        }
      }
    },
    { timeoutMs: 500 }
  )
  const failed = Object.fromEntries(checks.filter(c => !c.ok).map(c => [c.name, c.error]))
  t.match(failed, {
    'delivers a conversation in order and reports what it posted': /order: .* is not on the platform/,
    'keeps what it must remember in its state, through a restart': /after a restart/,
    'answers failed when the platform says so, and goes on after': /expected failed, got .*delivered/,
    'gives up when the signal aborts': /did not settle within 500 ms/,
    'a run of several, when it takes them, keeps to its limits and delivers a prefix in order': /maxMessages is 0/
  })
  t.equal(Object.keys(failed).length, 5, 'and passes the others')
})
