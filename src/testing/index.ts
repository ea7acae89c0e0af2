import { randomUUID } from 'node:crypto'
import { type Clock, systemClock } from '../clock.js'
import type { RelayMessage } from '../message.js'
import { asRunRelay, deliverOne } from '../relays/run-adapter.js'
import type {
  ConversationState,
  DeliveryContext,
  DeliveryOutcome,
  Relay,
  RelayInit,
  RelayLogger,
  RunOutcome
} from '../relays/types.js'

export { asRunRelay, deliverInTurn, deliverOne } from '../relays/run-adapter.js'

/**
 * The relay contract as a suite a plugin author runs against their own relay (the built-ins pass
 * it too): `import { checkRelayContract } from 'gptbots-relay/testing'`. It needs no test
 * framework: each check comes back with whether it passed and why not.
 */

/** Failures a subject can make its platform answer with, for the outcome checks. */
export type FailureKind = 'retry' | 'failed' | 'held'

/** The relay under test and a handle on the platform (or fake) it posts to. */
export interface RelayContractSubject {
  /** A fresh relay; called once per check, with the init the suite gives (name, logger, clock). */
  create(init: RelayInit): Relay | Promise<Relay>
  /**
   * What the platform shows, oldest first: any strings (texts, request bodies) in which the text
   * of each delivered message can be found. Used to check order.
   */
  received(): string[] | Promise<string[]>
  /**
   * Makes the platform's next answer a failure of this kind (a 5xx for retry, a refused channel
   * for failed, a bad token for held). Kinds left out are not checked.
   */
  failNext?: Partial<Record<FailureKind, () => void | Promise<void>>>
  /**
   * Makes the platform stop answering; returns a function that lets it answer again. With it the
   * abort check aborts a delivery that hangs; without it, it delivers with a signal aborted already.
   */
  stall?(): () => void | Promise<void>
  /** The clock given to the relay; the system clock by default. */
  clock?: Clock
}

export interface ContractCheck {
  name: string
  ok: boolean
  /** Why it failed. */
  error?: string
}

export interface ContractOptions {
  /** How long one delivery may take before the check fails (default 10 s). */
  timeoutMs?: number
}

class ContractFailure extends Error {}

function expect(condition: unknown, message: string): asserts condition {
  if (!condition) throw new ContractFailure(message)
}

/** A conversation's state kept as the store keeps it: JSON, so a value that does not survive JSON shows. */
export function jsonState(): ConversationState & { entries: Map<string, string> } {
  const entries = new Map<string, string>()
  return {
    entries,
    async get<T>(key: string) {
      const json = entries.get(key)
      return json === undefined ? undefined : (JSON.parse(json) as T)
    },
    async set(key, value) {
      if (value === undefined) {
        entries.delete(key)
        return
      }
      const json = JSON.stringify(value)
      expect(json !== undefined, `state.set("${key}") was given a value JSON cannot hold`)
      entries.set(key, json)
    },
    async delete(key) {
      entries.delete(key)
    }
  }
}

const quietLogger = (): RelayLogger => ({ debug() {}, info() {}, warn() {}, error() {} })

/** A message as the core hands it to a relay, with a text no other message has. */
export function contractMessage(conversationId: string, fields: Partial<RelayMessage> = {}): RelayMessage {
  const id = randomUUID()
  const now = Date.now()
  return {
    source: 'default',
    messageId: `contract-${id}`,
    conversationId,
    type: 'ANSWER',
    text: `contract check ${id}`,
    flowOutput: [],
    createdAt: now,
    receivedAt: now,
    format: 'v1',
    ...fields
  }
}

async function within<T>(ms: number, what: string, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ContractFailure(`${what} did not settle within ${ms} ms`)), ms)
  })
  try {
    return await Promise.race([work, timeout])
  } finally {
    clearTimeout(timer)
  }
}

/** What the core makes of a delivery: a thrown error is a retry. */
async function settle<T extends DeliveryOutcome | RunOutcome>(work: Promise<T>): Promise<T | DeliveryOutcome> {
  try {
    return await work
  } catch (error) {
    return { status: 'retry', error: (error as Error)?.message ?? String(error) }
  }
}

function checkPosted(posted: unknown, where: string): void {
  if (posted === undefined) return
  expect(
    typeof posted === 'object' && posted !== null && !Array.isArray(posted),
    `${where}: posted must be a plain object or nothing`
  )
  const json = JSON.stringify(posted)
  expect(JSON.stringify(JSON.parse(json)) === json, `${where}: posted does not survive JSON`)
  expect(json.length <= 4096, `${where}: posted is ${json.length} characters of JSON; keep it small (ids, a link)`)
}

async function inOrder(subject: RelayContractSubject, texts: string[], what: string): Promise<void> {
  const shown = await subject.received()
  // A combined post (#15) holds several messages: later ones may be further on in the same post.
  let from = 0
  let offset = 0
  for (const text of texts) {
    let at = -1
    for (let i = from; i < shown.length && at < 0; i++) {
      const position = (shown[i] as string).indexOf(text, i === from ? offset : 0)
      if (position >= 0) {
        at = i
        offset = position + text.length
      }
    }
    expect(at >= 0, `${what}: "${text}" is not on the platform after the messages before it`)
    from = at
  }
}

/** Runs every check that applies to the subject; each result says whether it passed and why not. */
export async function checkRelayContract(
  subject: RelayContractSubject,
  options: ContractOptions = {}
): Promise<ContractCheck[]> {
  const timeoutMs = options.timeoutMs ?? 10_000
  const clock = subject.clock ?? systemClock
  const results: ContractCheck[] = []
  let n = 0

  const check = async (name: string, body: (relay: Relay) => Promise<void>) => {
    let relay: Relay | undefined
    try {
      relay = await subject.create({ name: `contract.${++n}`, logger: quietLogger(), configDir: '.', clock })
      await body(relay)
      results.push({ name, ok: true })
    } catch (error) {
      results.push({ name, ok: false, error: (error as Error)?.message ?? String(error) })
    } finally {
      await relay?.close?.().catch(() => {})
    }
  }
  const context = (state: ConversationState, signal = new AbortController().signal): DeliveryContext => ({
    state,
    attempt: 1,
    signal,
    logger: quietLogger()
  })
  const deliver = (relay: Relay, message: RelayMessage, state: ConversationState, signal?: AbortSignal) =>
    within(timeoutMs, 'deliver', settle(deliverOne(relay, message, context(state, signal))))

  await check('ready, when it has it, answers for a working platform', async relay => {
    if (relay.ready) await within(timeoutMs, 'ready()', relay.ready())
  })

  await check('delivers a conversation in order and reports what it posted', async relay => {
    const state = jsonState()
    const conversation = `contract-order-${randomUUID()}`
    const messages = [1, 2, 3].map(() => contractMessage(conversation))
    for (const [i, message] of messages.entries()) {
      const outcome = await deliver(relay, message, state)
      expect(outcome.status === 'delivered', `message ${i + 1}: ${JSON.stringify(outcome)}`)
      checkPosted(outcome.posted, `message ${i + 1}`)
    }
    await inOrder(
      subject,
      messages.map(m => m.text!),
      'order'
    )
  })

  await check('keeps what it must remember in its state, through a restart', async relay => {
    const state = jsonState()
    const conversation = `contract-state-${randomUUID()}`
    const first = contractMessage(conversation)
    const outcome = await deliver(relay, first, state)
    expect(outcome.status === 'delivered', `first message: ${JSON.stringify(outcome)}`)
    // A new instance, as after a restart, reads the same state back.
    const again = await subject.create({ name: `contract.${n}`, logger: quietLogger(), configDir: '.', clock })
    try {
      const second = contractMessage(conversation)
      const next = await deliver(again, second, state)
      expect(next.status === 'delivered', `after a restart: ${JSON.stringify(next)}`)
      await inOrder(subject, [first.text!, second.text!], 'after a restart')
    } finally {
      await again.close?.().catch(() => {})
    }
  })

  for (const kind of ['retry', 'failed', 'held'] as const) {
    const fail = subject.failNext?.[kind]
    if (!fail) continue
    await check(`answers ${kind} when the platform says so, and goes on after`, async relay => {
      const state = jsonState()
      const conversation = `contract-${kind}-${randomUUID()}`
      await fail()
      const outcome = await deliver(relay, contractMessage(conversation), state)
      expect(outcome.status === kind, `expected ${kind}, got ${JSON.stringify(outcome)}`)
      expect(outcome.error.trim().length > 0, `${kind} without an error to show the admin`)
      if (outcome.status === 'retry' && outcome.retryAfterMs !== undefined)
        expect(
          Number.isFinite(outcome.retryAfterMs) && outcome.retryAfterMs >= 0,
          `retryAfterMs ${outcome.retryAfterMs}`
        )
      const next = await deliver(relay, contractMessage(conversation), state)
      expect(next.status === 'delivered', `the next message: ${JSON.stringify(next)}`)
    })
  }

  await check('gives up when the signal aborts', async relay => {
    const state = jsonState()
    const message = contractMessage(`contract-abort-${randomUUID()}`)
    const controller = new AbortController()
    if (!subject.stall) {
      controller.abort(new Error('delivery timed out'))
      await deliver(relay, message, state, controller.signal)
      return
    }
    const resume = subject.stall()
    try {
      const delivery = deliver(relay, message, state, controller.signal)
      setTimeout(() => controller.abort(new Error('delivery timed out')), 100).unref()
      const outcome = await delivery
      expect(outcome.status !== 'delivered', 'delivered while the platform did not answer')
    } finally {
      await resume()
    }
  })

  await check(
    'a run of several, when it takes them, keeps to its limits and delivers a prefix in order',
    async relay => {
      const run = asRunRelay(relay)
      const limits = run.runLimits
      expect(
        Number.isInteger(limits.maxMessages) && limits.maxMessages >= 1,
        `runLimits.maxMessages is ${limits.maxMessages}; 1 or more`
      )
      if (limits.maxMessages < 2) return
      const state = jsonState()
      const conversation = `contract-run-${randomUUID()}`
      const messages = Array.from({ length: Math.min(limits.maxMessages, 3) }, () => contractMessage(conversation))
      const outcome = await within(timeoutMs, 'deliverRun', run.deliverRun(messages, context(state)))
      expect(Array.isArray(outcome.delivered), 'delivered must be an array')
      expect(
        outcome.delivered.length >= 1 && outcome.delivered.length <= messages.length,
        `delivered ${outcome.delivered.length} of ${messages.length}`
      )
      for (const [i, posted] of outcome.delivered.entries()) checkPosted(posted, `run message ${i + 1}`)
      expect(outcome.next?.status !== ('delivered' as string), 'next must not be delivered')
      await inOrder(
        subject,
        messages.slice(0, outcome.delivered.length).map(m => m.text!),
        'run order'
      )
    }
  )

  await check('a turn, when it takes turns, goes to the run that follows and is given back', async relay => {
    const run = asRunRelay(relay)
    if (!run.takeTurn) return
    const state = jsonState()
    const conversation = `contract-turn-${randomUUID()}`
    for (const [i, message] of [contractMessage(conversation), contractMessage(conversation)].entries()) {
      const turn = await within(timeoutMs, 'takeTurn', run.takeTurn(message, context(state)))
      try {
        const outcome = await within(timeoutMs, 'deliverRun', run.deliverRun([message], { ...context(state), turn }))
        expect(outcome.delivered.length === 1, `message ${i + 1} with its turn: ${JSON.stringify(outcome)}`)
      } finally {
        turn?.release()
      }
    }
    // A turn given back unused leaves the conversation free to take the next one.
    const unused = await within(timeoutMs, 'takeTurn', run.takeTurn(contractMessage(conversation), context(state)))
    unused?.release()
    const after = await within(timeoutMs, 'takeTurn', run.takeTurn(contractMessage(conversation), context(state)))
    after?.release()
  })

  await check('close, when it has it, resolves', async relay => {
    if (relay.close) await within(timeoutMs, 'close()', relay.close())
  })

  return results
}

/** Runs the suite and throws one error listing every failed check. */
export async function assertRelayContract(subject: RelayContractSubject, options?: ContractOptions): Promise<void> {
  const failed = (await checkRelayContract(subject, options)).filter(c => !c.ok)
  if (failed.length > 0)
    throw new Error(`the relay breaks its contract:\n${failed.map(c => `- ${c.name}: ${c.error}`).join('\n')}`)
}
