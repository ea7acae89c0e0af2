import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { createInterface } from 'node:readline/promises'
import { fileURLToPath } from 'node:url'
import { ConfigError } from '../errors.js'

/** What `init` asks for; each may come from a flag, the environment, or a question at a terminal. */
export interface InitAnswers {
  platforms: ('slack' | 'discord')[]
  gptbotsKey: string
  slackToken?: string
  slackChannel?: string
  discordToken?: string
  discordChannel?: string
  discordMode?: 'thread' | 'forum' | 'channel'
  publicUrl?: string
}

export interface InitOptions {
  dir: string
  force: boolean
  /** Flags given on the command line, by name. */
  flags: Record<string, string | undefined>
  env: NodeJS.ProcessEnv
  /** A terminal to ask on; without one every answer must come from flags or the environment. */
  ask?: (question: string, secret: boolean) => Promise<string>
}

interface Question {
  key: keyof InitAnswers
  flag: string
  env?: string
  question: string
  secret: boolean
  when?: (a: Partial<InitAnswers>) => boolean
  check: (value: string) => string | undefined
}

const slackOn = (a: Partial<InitAnswers>) => a.platforms?.includes('slack') ?? false
const discordOn = (a: Partial<InitAnswers>) => a.platforms?.includes('discord') ?? false

const questions: Question[] = [
  {
    key: 'platforms',
    flag: 'platforms',
    question: 'Relay to which platforms (slack, discord, or slack,discord)?',
    secret: false,
    check: v =>
      v
        .split(',')
        .map(p => p.trim())
        .every(p => p === 'slack' || p === 'discord') && v.trim() !== ''
        ? undefined
        : 'name slack, discord, or both separated by a comma'
  },
  {
    key: 'gptbotsKey',
    flag: 'gptbots-key',
    env: 'GPTBOTS_API_KEY',
    question: "Your GPTBots agent's API key (Agent → Integration → API):",
    secret: true,
    check: v => (v.trim() ? undefined : 'the API key GPTBots sends with each webhook is needed')
  },
  {
    key: 'slackToken',
    flag: 'slack-token',
    env: 'SLACK_BOT_TOKEN',
    question: "The Slack app's Bot User OAuth Token (xoxb-...):",
    secret: true,
    when: slackOn,
    check: v => (v.startsWith('xoxb-') ? undefined : 'a Slack bot token starts with xoxb- (OAuth & Permissions)')
  },
  {
    key: 'slackChannel',
    flag: 'slack-channel',
    env: 'SLACK_CHANNEL_ID',
    question: 'The Slack channel ID (C0123ABCD, under the channel name → About):',
    secret: false,
    when: slackOn,
    check: v => (/^[CG][A-Z0-9]{2,}$/.test(v) ? undefined : 'a channel ID such as C0123ABCD, not its #name')
  },
  {
    key: 'discordToken',
    flag: 'discord-token',
    env: 'DISCORD_BOT_TOKEN',
    question: "The Discord bot's token (Developer Portal → Bot → Reset Token):",
    secret: true,
    when: discordOn,
    check: v => (v.trim().length >= 20 ? undefined : 'a Discord bot token is a long string from the Bot page')
  },
  {
    key: 'discordChannel',
    flag: 'discord-channel',
    env: 'DISCORD_CHANNEL_ID',
    question: 'The Discord channel id (Developer Mode on, right-click the channel → Copy Channel ID):',
    secret: false,
    when: discordOn,
    check: v => (/^\d{17,20}$/.test(v) ? undefined : 'a channel id is a number of 17 to 20 digits')
  },
  {
    key: 'discordMode',
    flag: 'discord-mode',
    question: 'Discord mode: thread (a thread per conversation in a text channel), forum, or channel?',
    secret: false,
    when: discordOn,
    check: v => (['thread', 'forum', 'channel'].includes(v) ? undefined : 'thread, forum or channel')
  },
  {
    key: 'publicUrl',
    flag: 'public-url',
    question: 'The HTTPS address GPTBots will reach the relay at (empty if you do not know it yet):',
    secret: false,
    check: v => (v === '' || /^https?:\/\//.test(v) ? undefined : 'an address starting with https://')
  }
]

/** Optional answers: left out when not given, instead of asked for. */
const optional = new Set<keyof InitAnswers>(['publicUrl'])
const defaults: Partial<Record<keyof InitAnswers, string>> = { discordMode: 'thread' }

async function answersFor(options: InitOptions): Promise<InitAnswers> {
  const answers: Record<string, unknown> = {}
  const missing: string[] = []
  for (const q of questions) {
    if (q.when && !q.when(answers as Partial<InitAnswers>)) continue
    let value = options.flags[q.flag] ?? (q.env ? options.env[q.env] || undefined : undefined)
    if (value === undefined && options.ask) {
      for (;;) {
        const given = (await options.ask(q.question, q.secret)).trim()
        value = given === '' ? (defaults[q.key] ?? (optional.has(q.key) ? '' : undefined)) : given
        if (value === undefined) continue
        const problem = q.check(value)
        if (!problem) break
        console.error(`  ${problem}`)
      }
    }
    value ??= defaults[q.key] ?? (optional.has(q.key) ? '' : undefined)
    if (value === undefined) {
      missing.push(`--${q.flag}${q.env ? ` (or $${q.env})` : ''}`)
      continue
    }
    const problem = q.check(value)
    if (problem) throw new ConfigError(`--${q.flag}: ${problem}`)
    answers[q.key] =
      q.key === 'platforms' ? [...new Set(value.split(',').map(p => p.trim()))] : value === '' ? undefined : value
  }
  if (missing.length > 0)
    throw new ConfigError(`init needs ${missing.join(', ')}: there is no terminal to ask on, so pass them`)
  return answers as unknown as InitAnswers
}

/** config.schema.json of this package, for the written config's "$schema". */
function schemaFile(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const file = join(dir, 'config.schema.json')
    if (existsSync(file)) return file
    if (dirname(dir) === dir) return 'config.schema.json'
  }
}

/** A .env line; quoted when the value holds what a dotenv parser would otherwise cut or read. */
function envLine(name: string, value: string): string {
  return /^[A-Za-z0-9_./:+@=-]*$/.test(value) ? `${name}=${value}` : `${name}=${JSON.stringify(value)}`
}

export function configFor(answers: InitAnswers, dir: string): { config: object; env: [string, string][] } {
  const env: [string, string][] = [['GPTBOTS_API_KEY', answers.gptbotsKey]]
  const relays: Record<string, object> = {}
  if (answers.platforms.includes('slack')) {
    env.push(['SLACK_BOT_TOKEN', answers.slackToken!])
    relays.slack = { type: 'slack', token: '${SLACK_BOT_TOKEN}', channel: answers.slackChannel }
  }
  if (answers.platforms.includes('discord')) {
    env.push(['DISCORD_BOT_TOKEN', answers.discordToken!])
    relays.discord = {
      type: 'discord',
      token: '${DISCORD_BOT_TOKEN}',
      channel: answers.discordChannel,
      mode: answers.discordMode ?? 'thread'
    }
  }
  const schema = relative(dir, schemaFile()).split('\\').join('/')
  return {
    config: {
      $schema: schema.startsWith('.') ? schema : `./${schema}`,
      server: { host: '127.0.0.1', port: 8080, ...(answers.publicUrl ? { publicUrl: answers.publicUrl } : {}) },
      auth: { tokens: ['${GPTBOTS_API_KEY}'] },
      store: { driver: 'sqlite', path: './data/relay.db' },
      relays
    },
    env
  }
}

/**
 * Writes config.json (placeholders only) and .env (the secrets, readable by the owner alone) in
 * `dir`. Refuses, before writing anything, when either exists and --force was not given.
 */
export async function init(options: InitOptions): Promise<{ configFile: string; envFile: string }> {
  const dir = resolve(options.dir)
  const configFile = join(dir, 'config.json')
  const envFile = join(dir, '.env')
  const present = [configFile, envFile].filter(f => existsSync(f))
  if (present.length > 0 && !options.force)
    throw new ConfigError(
      `${present.join(' and ')} already exist${present.length === 1 ? 's' : ''}: pass --force to replace`
    )
  const answers = await answersFor(options)
  const { config, env } = configFor(answers, dir)
  mkdirSync(dir, { recursive: true })
  writeFileSync(envFile, `${env.map(([name, value]) => envLine(name, value)).join('\n')}\n`, { mode: 0o600 })
  // A replaced file keeps its old mode otherwise.
  chmodSync(envFile, 0o600)
  writeFileSync(configFile, `${JSON.stringify(config, null, 2)}\n`)
  return { configFile, envFile }
}

/** Questions on a terminal; a secret's answer is not echoed. */
export function terminalAsker(): { ask: (question: string, secret: boolean) => Promise<string>; close: () => void } {
  const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: true })
  let muted = false
  const output = rl as unknown as { _writeToOutput: (text: string) => void; output: NodeJS.WriteStream }
  const write = output._writeToOutput.bind(rl)
  output._writeToOutput = text => {
    if (!muted || text.includes('\n')) write(muted ? '\n' : text)
  }
  return {
    async ask(question, secret) {
      muted = false
      const pending = rl.question(`${question} `)
      muted = secret
      const answer = await pending
      muted = false
      return answer
    },
    close: () => rl.close()
  }
}
