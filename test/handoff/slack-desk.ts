import type { FastifyInstance } from 'fastify'
import type { Test } from 'tap'
import { ManualClock } from '../helpers/clock.js'
import { slackSignature } from '../../plugins/slack/inbound/signature.js'
import { FakeGptbots, fakeApiKey } from '../fakes/gptbots.js'
import { FakeSlack, fakeChannel, fakeToken, type PostedMessage } from '../fakes/slack.js'
import { testApp } from '../helpers/app.js'

export const signingSecret = 'slack-signing-secret-0123456789abcdef'
export const adminToken = 'admin-token-0123456789'

export interface Desk {
  app: FastifyInstance & { dbPath: string }
  slack: FakeSlack
  gptbots: FakeGptbots
  clock: ManualClock
  /** Delivers everything due now. */
  drain(): Promise<void>
  /**
   * Delivers until `done` holds: receipts are stored just after the delivery they report on, so one
   * drain may end before they are. Gives up after 200 rounds.
   */
  until(done: () => boolean): Promise<void>
}

/** The whole relay with a Slack desk, against the fake Slack and the fake GPTBots. */
export async function slackDesk(
  t: Test,
  options: {
    dbPath?: string
    store?: Record<string, unknown>
    slack?: FakeSlack
    gptbots?: FakeGptbots
    oncall?: string
    dispatch?: Record<string, number>
    /** More of the config's `handoff` section. */
    handoff?: Record<string, unknown>
  } = {}
): Promise<Desk> {
  const slack = options.slack ?? (await FakeSlack.start({ rateLimit: false }))
  const gptbots = options.gptbots ?? (await FakeGptbots.start())
  if (!options.slack) t.teardown(() => slack.close())
  if (!options.gptbots) t.teardown(() => gptbots.close())
  const clock = new ManualClock(Date.now())
  const app = await testApp(t, {
    clock,
    random: () => 1,
    dbPath: options.dbPath,
    env: { GPTBOTS_API_KEY: fakeApiKey },
    config: {
      admin: { token: adminToken },
      ...(options.store ? { store: options.store } : {}),
      dispatch: {
        backoffBaseMs: 1000,
        backoffMaxMs: 8000,
        maxAttempts: 3,
        deliveryTimeoutMs: 500,
        ...options.dispatch
      },
      relays: {
        'slack.desk': {
          type: 'slack',
          token: fakeToken,
          channel: fakeChannel,
          apiUrl: slack.apiUrl,
          pace: { intervalMs: 0, burst: 50 },
          handoff: { signingSecret, ...(options.oncall ? { oncall: options.oncall } : {}) }
        }
      },
      handoff: {
        relays: ['slack.desk'],
        gptbots: { apiUrl: gptbots.apiUrl, timeoutMs: 1000 },
        ...options.handoff
      }
    }
  })
  const drain = () => app.relay.dispatcher.drain()
  const until = async (done: () => boolean) => {
    for (let round = 0; round < 200 && !done(); round++) {
      await drain()
      if (!done()) await new Promise(resolve => setTimeout(resolve, 10))
    }
  }
  return { app, slack, gptbots, clock, drain, until }
}

/** Posts a body to a Slack route of the relay, signed as Slack signs it (or not, or wrongly). */
export function fromSlack(
  app: FastifyInstance,
  route: 'events' | 'interactivity',
  body: string,
  options: { secret?: string; at?: number; headers?: Record<string, string>; unsigned?: boolean } = {}
) {
  const at = options.at ?? Math.floor(Date.now() / 1000)
  const signature = options.unsigned
    ? {}
    : {
        'x-slack-request-timestamp': String(at),
        'x-slack-signature': slackSignature(options.secret ?? signingSecret, at, body)
      }
  return app.inject({
    method: 'POST',
    url: `/relays/slack.desk/${route}`,
    headers: {
      'content-type': route === 'events' ? 'application/json' : 'application/x-www-form-urlencoded',
      ...signature,
      ...options.headers
    },
    payload: body
  })
}

let eventCounter = 0

/** Slack's event_callback envelope around an event. */
export const eventCallback = (event: Record<string, unknown>) =>
  JSON.stringify({
    type: 'event_callback',
    team_id: 'T0FAKE',
    api_app_id: 'A0FAKE',
    event_id: `Ev${++eventCounter}`,
    event_time: 1,
    event
  })

/** A button click as Slack posts it to the interactivity URL. */
export function click(action: 'claim' | 'close', parent: PostedMessage, user = 'U0AGENT2') {
  const actions = parent.blocks?.find(b => b.type === 'actions')?.elements as
    | { action_id: string; value: string }[]
    | undefined
  const button = actions?.find(a => a.action_id === `gptbots_handoff_${action}`)
  if (!button) throw new Error(`the parent message has no ${action} button`)
  const payload = {
    type: 'block_actions',
    user: { id: user, username: user.toLowerCase(), name: user.toLowerCase() },
    channel: { id: parent.channel },
    message: { ts: parent.ts },
    container: { type: 'message', message_ts: parent.ts, channel_id: parent.channel },
    actions: [{ type: 'button', action_id: button.action_id, value: button.value, block_id: 'gptbots_handoff_actions' }]
  }
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString()
}

/** Every text a message shows: its text, and its blocks' texts. */
export function shown(message: PostedMessage): string {
  return JSON.stringify([message.text, message.blocks])
}
