import { systemClock } from '../../src/clock.js'
import { readFileSync } from 'node:fs'
import { PermissionFlagsBits } from 'discord-api-types/v10'
import t from 'tap'
import plugin from '../../plugins/discord/index.js'
import { ChannelType, FakeDiscord } from '../fakes/discord.js'
import { memoryState } from '../helpers/memory-state.js'
import { deliveryContext, recordingLogger, relayMessage } from '../helpers/relay.js'
import { deliverOne } from '../../src/relays/run-adapter.js'

type Flag = keyof typeof PermissionFlagsBits

const doc = readFileSync('docs/discord.md', 'utf8')

/** docs/discord.md's table: mode → the permissions it names and the integer it gives. */
function documented(): Map<string, { names: Flag[]; integer: bigint }> {
  const rows = new Map<string, { names: Flag[]; integer: bigint }>()
  const table = doc.slice(doc.indexOf('<!-- permissions -->'))
  for (const line of table.split('\n').slice(1)) {
    if (line.trim() === '') {
      if (rows.size > 0) break
      continue
    }
    const cells = line.split('|').map(cell => cell.trim())
    const integer = /^`(\d+)`$/.exec(cells[3] ?? '')
    if (!integer) continue
    const names = cells[2]!.split(',').map(name => flagOf(name.trim()))
    rows.set(cells[1]!.replaceAll('`', ''), { names, integer: BigInt(integer[1]!) })
  }
  return rows
}

/** "Send Messages in Threads" → SendMessagesInThreads, discord-api-types' name of the flag. */
function flagOf(name: string): Flag {
  const flag = name.replace(/(^|\s)(\w)/g, (_, _space, letter: string) => letter.toUpperCase()) as Flag
  if (!(flag in PermissionFlagsBits)) throw new Error(`"${name}" is not a Discord permission`)
  return flag
}

const sum = (flags: Iterable<Flag>) => [...flags].reduce((total, flag) => total | PermissionFlagsBits[flag], 0n)

/**
 * The permissions the relay really needs in a mode, read off the requests it made to the fake
 * while it checked its readiness and relayed an answer and a question of one conversation.
 */
async function usedBy(mode: 'thread' | 'forum' | 'channel'): Promise<Set<Flag>> {
  const fake = await new FakeDiscord().start()
  try {
    const channel = fake.addChannel(mode === 'forum' ? ChannelType.Forum : ChannelType.Text)
    const relay = await plugin.create(
      { token: fake.token, channel: channel.id, apiUrl: fake.api, mode },
      { name: 'discord.support', logger: recordingLogger(), configDir: '.', clock: systemClock }
    )
    await relay.ready!()
    const state = memoryState()
    const flow = [{ content: '你好', branch: '1', componentName: 'User Input', audio: [] }]
    for (const type of ['ANSWER', 'QUESTION'] as const) {
      const outcome = await deliverOne(
        relay,
        relayMessage({ type, text: 'Hi', flowOutput: flow }),
        deliveryContext(state)
      )
      if (outcome.status !== 'delivered') throw new Error(`${mode}: ${JSON.stringify(outcome)}`)
    }
    await relay.close?.()
    const used = new Set<Flag>()
    for (const request of fake.requests) {
      const id = /\/channels\/(\d+)/.exec(request.path)?.[1]
      const target = id ? fake.channels.get(id) : undefined
      if (request.route === 'GET /channels/:id') used.add('ViewChannel')
      if (request.route === 'POST /channels/:id/threads') {
        // A thread in a text channel takes Create Public Threads; a forum post is sent as a message.
        used.add(target?.type === ChannelType.Forum ? 'SendMessages' : 'CreatePublicThreads')
        if (request.body.message?.embeds?.length) used.add('EmbedLinks')
      }
      if (request.route === 'POST /channels/:id/messages') {
        used.add(target?.parent_id ? 'SendMessagesInThreads' : 'SendMessages')
        if (request.body.embeds?.length) used.add('EmbedLinks')
      }
    }
    return used
  } finally {
    await fake.close()
  }
}

t.test('each mode asks for the permissions the relay uses, and its integer is their sum', async t => {
  const rows = documented()
  for (const mode of ['thread', 'forum', 'channel'] as const) {
    const row = rows.get(mode)
    if (!t.ok(row, `docs/discord.md has a row for ${mode}`)) continue
    t.same([...row!.names].sort(), [...(await usedBy(mode))].sort(), `${mode}: the permissions the relay uses`)
    t.equal(row!.integer, sum(row!.names), `${mode}: the integer is the sum of the named permissions`)
  }
  const any = rows.get('any of them')
  if (!t.ok(any, 'a row for any mode')) return
  t.equal(any!.integer, sum(any!.names), 'its integer is the sum of its permissions')
  t.same(
    [...any!.names].sort(),
    [...new Set(['thread', 'forum', 'channel'].flatMap(mode => rows.get(mode)?.names ?? []))].sort(),
    'and those are the union of the modes'
  )
  // The desk marks replies with ✅ (PUT …/reactions/…/@me): its row adds Add Reactions to any mode's.
  const desk = rows.get('a desk, any mode')
  if (!t.ok(desk, 'a row for a desk')) return
  t.same(
    [...desk!.names].sort(),
    [...any!.names, 'AddReactions'].sort(),
    "a desk's permissions: any mode's and Add Reactions"
  )
  t.equal(desk!.integer, sum(desk!.names), 'its integer is the sum of its permissions')
  const invite = /<!-- invite -->\s*```\n(https:\/\/discord\.com\/oauth2\/authorize\?[^\n]+)\n```/.exec(doc)
  if (!t.ok(invite, 'the invite link')) return
  const query = new URL(invite![1]!).searchParams
  t.equal(query.get('scope'), 'bot')
  t.equal(
    BigInt(query.get('permissions') ?? '-1'),
    desk!.integer,
    "the invite link's permissions are those of a desk in any mode"
  )
  t.match(doc, `\`${desk!.integer}\` is the sum`, 'the text says the same number')
})
