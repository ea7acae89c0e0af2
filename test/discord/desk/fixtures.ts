import { systemClock } from '../../../src/clock.js'
import plugin from '../../../plugins/discord/index.js'
import type { HandoffEvent, RelayMessage } from '../../../src/message.js'
import type { Relay } from '../../../src/relays/types.js'
import { ChannelType, type FakeDiscord } from '../../fakes/discord.js'
import { memoryDesk, serveRoute } from '../../helpers/memory-desk.js'
import { memoryState } from '../../helpers/memory-state.js'
import { recordingLogger, relayMessage } from '../../helpers/relay.js'

let handoffs = 0

/** A desk relay on the fake Discord, its interactions endpoint served on loopback, with a memory desk. */
export async function deskScene(
  fake: FakeDiscord,
  extra: Record<string, unknown> = {},
  channelType: number = ChannelType.Text
) {
  const channel = fake.addChannel(channelType)
  const memory = memoryDesk()
  const logger = recordingLogger()
  const { desk: deskExtra, ...rest } = extra as { desk?: Record<string, unknown> }
  const relay: Relay = await plugin.create(
    {
      token: fake.token,
      channel: channel.id,
      apiUrl: fake.api,
      ...(channelType === ChannelType.Forum ? { mode: 'forum' } : {}),
      ...rest,
      desk: { applicationId: fake.application.id, publicKey: fake.application.publicKey, ...deskExtra }
    },
    { name: 'discord.desk', logger, configDir: '.', clock: systemClock, desk: memory.desk }
  )
  const endpoint = await serveRoute(relay.inbound![0]!)
  const handoffId = `6573${String(++handoffs).padStart(20, '0')}`
  const ref = { source: 'default', handoffId }
  memory.open(ref)
  const state = memoryState()
  /** A message of this handoff's lane, as the core hands it to the desk relay. */
  const message = (event: Record<string, unknown>, fields: Partial<RelayMessage> = {}): RelayMessage =>
    relayMessage({
      conversationId: `handoff:${handoffId}`,
      format: 'handoff',
      type: 'QUESTION',
      handoff: { handoffId, ...event } as HandoffEvent,
      ...fields
    })
  return {
    channel,
    memory,
    logger,
    relay,
    endpoint,
    ref,
    handoffId,
    state,
    message,
    close: async () => {
      await endpoint.close()
      await relay.close?.()
    }
  }
}

export const establish = (history: { type: 'QUESTION' | 'ANSWER'; text: string }[] = []) => ({
  kind: 'establish',
  userInfo: { user_id: 'u-42', email: 'ann@example.com', phone: '', anonymous_id: 'anon-7' },
  botId: 'bot-1',
  history
})
