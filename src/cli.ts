#!/usr/bin/env node
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { randomUUID } from 'node:crypto'
import { parseArgs } from 'node:util'
import { isAdminCommand, runAdminCommand } from './admin/cli.js'
import { defaultConfig, loadConfigFile, type LoadedConfig } from './config/load.js'
import { ConfigError } from './errors.js'
import { seedExample } from './intake/seed.js'
import { StartupError } from './ops/startup.js'

const usage = {
  main: `gptbots-relay: relay GPTBots webhook messages to Slack, Discord and your own destinations

Usage: gptbots-relay <command> [options]

Commands:
  start [--config FILE]        run the relay (default command)
  check-config [FILE]          validate a config file and the options of every relay
  send-test [--url URL] [--token TOKEN] [--conversation ID]
                               post GPTBots' example message to a running relay
  migrate [--config FILE]      create or upgrade the store's tables, then exit
  init [--platforms slack,discord] [--force]
                               write config.json and .env (the secrets) for Slack and/or Discord
  doctor [--config FILE] [--post]
                               check the config against Slack, Discord, GPTBots, the public address and the store
  dead-letters [--relay R]     list dead letters of a running relay (admin API)
  replay <delivery-id> | --relay R | --conversation C --to RELAY
                               replay dead letters, or a conversation into a relay
  conversations [--conversation C]
                               list conversations, or one conversation's messages

Run "gptbots-relay <command> --help" for a command's options, "gptbots-relay --version" for the version.`,
  start: `Usage: gptbots-relay start [--config FILE]

Runs the relay. The config comes from --config, else $GPTBOTS_RELAY_CONFIG, else ./config.json
when it exists, else a built-in default: the console relay with an open intake on 127.0.0.1.

Options:
  -c, --config FILE   the JSON config file
  -h, --help          show this help`,
  'check-config': `Usage: gptbots-relay check-config [FILE]

Validates FILE: its JSON, environment placeholders, every field, routes, and each relay's options
against its plugin's schema. Prints what is wrong, with paths, and exits 1; or exits 0. Without
FILE it checks the config start would use: $GPTBOTS_RELAY_CONFIG, else ./config.json.

Options:
  -h, --help   show this help`,
  migrate: `Usage: gptbots-relay migrate [--config FILE]

Creates or upgrades the store's tables and exits. start does this too, so this is for running it
ahead of a deploy. Safe while other replicas start or run: PostgreSQL migrations take a lock.

Options:
  -c, --config FILE   the JSON config file (found as for start)
  -h, --help          show this help`,
  init: `Usage: gptbots-relay init [--platforms slack,discord] [options] [--force]

Writes config.json and .env in the current directory (or --dir): the config names every secret as
\${VAR}, and .env (readable by you alone) holds them. start, check-config and doctor read the .env
beside the config file, so \`npm start\` runs the result as it is. At a terminal it asks for what
the flags do not give; without one (a script) every value must come from a flag or its variable.
Never prints a secret. Refuses to replace either file without --force.

Options:
  --platforms LIST         slack, discord, or slack,discord
  --gptbots-key KEY        the agent's API key (default $GPTBOTS_API_KEY)
  --slack-token TOKEN      the Slack bot token, xoxb-... (default $SLACK_BOT_TOKEN)
  --slack-channel ID       the Slack channel ID (default $SLACK_CHANNEL_ID)
  --discord-token TOKEN    the Discord bot token (default $DISCORD_BOT_TOKEN)
  --discord-channel ID     the Discord channel id (default $DISCORD_CHANNEL_ID)
  --discord-mode MODE      thread (default), forum or channel
  --public-url URL         the HTTPS address GPTBots reaches the relay at (optional)
  --dir DIR                where to write (default the current directory)
  --force                  replace config.json and .env if they exist
  -h, --help               show this help`,
  doctor: `Usage: gptbots-relay doctor [--config FILE] [--post]

Checks what the config names against the real services, one line each (✓ or ✗ with its fix), and
exits 1 if any fails: each Slack relay's token, its granted scopes against those its options need,
each channel and the app's membership; each Discord relay's token, each channel's type against the
mode, and the bot's permissions there; GPTBots' API with each source's key; that server.publicUrl
reaches this relay (running, or answered for in its place) and the URLs to paste; the store.

Options:
  -c, --config FILE   the JSON config file (found as for start)
  --post              also post a test message, in a thread, where each relay posts
  -h, --help          show this help`,
  'send-test': `Usage: gptbots-relay send-test [--url URL] [--token TOKEN] [--conversation ID]

Posts the example message from GPTBots' webhook documentation (with a fresh message_id, so that
repeated tests are not deduplicated) and prints the relay's answer.

Options:
  --url URL          the webhook URL (default http://127.0.0.1:$PORT/webhook, PORT defaulting to 8080)
  --token TOKEN      sent as Authorization: Bearer TOKEN (default $GPTBOTS_API_KEY, else none)
  --conversation ID  the conversation id (default the example's)
  -h, --help         show this help`
}

/** The config file start uses: --config, else $GPTBOTS_RELAY_CONFIG, else ./config.json when it exists. */
function configFileFor(file: string | undefined): string | undefined {
  // An empty variable counts as unset, as a shell's `GPTBOTS_RELAY_CONFIG= npm start` means.
  const chosen = file || process.env.GPTBOTS_RELAY_CONFIG || (existsSync('config.json') ? 'config.json' : undefined)
  if (chosen) loadEnvBeside(chosen)
  return chosen
}

/**
 * The .env beside the config file (what init writes) fills the variables the environment does not
 * already set: a variable given by the shell, systemd or Docker wins over the file.
 */
function loadEnvBeside(configFile: string): void {
  const file = join(dirname(resolve(configFile)), '.env')
  if (!existsSync(file)) return
  const load = (process as { loadEnvFile?: (path: string) => void }).loadEnvFile
  if (!load) {
    console.error(
      `warning: ${file} is not read: Node ${process.versions.node} cannot (20.12 or later can); export its variables instead`
    )
    return
  }
  const before = { ...process.env }
  load(file)
  // loadEnvFile leaves set variables alone, but one set to the empty string counts as unset here.
  for (const [name, value] of Object.entries(before)) if (value !== '') process.env[name] = value
}

function loadFor(file: string | undefined): LoadedConfig {
  const chosen = configFileFor(file)
  return chosen ? loadConfigFile(chosen) : defaultConfig()
}

/** Every relay's options against its plugin's schema, all problems at once, under the file's name. */
async function checkRelays(loaded: LoadedConfig): Promise<void> {
  const problems: string[] = []
  const { prepareRelay } = await import('./relays/loader.js')
  for (const [name, entry] of Object.entries(loaded.config.relays)) {
    await prepareRelay(name, entry, loaded.configDir).catch((error: Error) => problems.push(error.message))
  }
  const where = loaded.file ?? 'the built-in config'
  if (problems.length === 1) throw new ConfigError(`${where}: ${problems[0]}`)
  if (problems.length > 1) throw new ConfigError(`${where}:\n${problems.join('\n')}`)
}

function warn(loaded: LoadedConfig): void {
  for (const warning of loaded.warnings ?? []) console.error(`warning: ${warning}`)
}

async function checkConfig(file: string): Promise<void> {
  const loaded = loadConfigFile(file)
  warn(loaded)
  await checkRelays(loaded)
  const routes = loaded.config.routes?.length
  console.log(
    `${loaded.file} is valid: ${Object.keys(loaded.config.relays).length} relay(s), ${routes === undefined ? 'no routes (every relay gets every message)' : `${routes} route(s)`}, store ${loaded.config.store.driver}`
  )
}

async function sendTest(url: string, token: string | undefined, conversation: string | undefined): Promise<void> {
  const body = seedExample(`test-${randomUUID()}`, conversation)
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body)
  }).catch((error: Error) => {
    // fetch says only "fetch failed"; the reason (ECONNREFUSED and the like) is its cause.
    const cause = (error.cause as Error | undefined)?.message ?? error.message
    throw new Error(`cannot reach the relay at ${url}: ${cause} (is it running? --url sets another address)`)
  })
  const text = await response.text()
  console.log(`POST ${url} → HTTP ${response.status} ${text}`)
  if (response.status === 401) {
    console.log(
      token
        ? 'the relay refused this token: pass one of the tokens in its config (auth.tokens, or auth.sources for /webhook/<source>) with --token TOKEN or the GPTBOTS_API_KEY environment variable'
        : 'the relay wants a token: pass --token TOKEN, or set the GPTBOTS_API_KEY environment variable, to one of the tokens in its config (auth.tokens)'
    )
  }
  if (!response.ok) process.exitCode = 1
}

/** This package's version, from its package.json, found upwards from here (src/ or dist/src/). */
function version(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const file = join(dir, 'package.json')
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string }
      if (pkg.name === 'gptbots-relay') return pkg.version ?? 'unknown'
    }
    if (dirname(dir) === dir) return 'unknown'
  }
}

export async function main(argv: string[]): Promise<void> {
  if (argv[0] === 'help' || argv[0] === '--help' || argv[0] === '-h') {
    console.log(usage.main)
    return
  }
  if (argv[0] === '--version' || argv[0] === '-v' || argv[0] === 'version') {
    console.log(`gptbots-relay ${version()}`)
    return
  }
  const command = argv[0] && !argv[0].startsWith('-') ? argv[0] : 'start'
  const rest = command === argv[0] ? argv.slice(1) : argv
  if (isAdminCommand(command)) return runAdminCommand(command, rest)
  if (!(command in usage) || command === 'main') {
    console.error(`unknown command "${command}"\n\n${usage.main}`)
    process.exitCode = 2
    return
  }
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      help: { type: 'boolean', short: 'h' },
      config: { type: 'string', short: 'c' },
      url: { type: 'string' },
      token: { type: 'string' },
      conversation: { type: 'string' },
      platforms: { type: 'string' },
      'gptbots-key': { type: 'string' },
      'slack-token': { type: 'string' },
      'slack-channel': { type: 'string' },
      'discord-token': { type: 'string' },
      'discord-channel': { type: 'string' },
      'discord-mode': { type: 'string' },
      'public-url': { type: 'string' },
      dir: { type: 'string' },
      force: { type: 'boolean' },
      post: { type: 'boolean' }
    }
  })
  if (values.help) {
    console.log(usage[command as keyof typeof usage])
    return
  }
  switch (command) {
    case 'start': {
      const loaded = loadFor(values.config ?? positionals[0])
      warn(loaded)
      // The same check as check-config first, so that start reports a bad config the same way.
      await checkRelays(loaded)
      // Loaded here, not at the top: the admin commands and --help start in a tenth of the time without the server.
      return (await import('./server.js')).startServer(loaded)
    }
    case 'check-config': {
      const file = configFileFor(positionals[0] ?? values.config)
      if (!file)
        throw new ConfigError(
          'no config file to check: pass one (check-config FILE), set GPTBOTS_RELAY_CONFIG, or create ./config.json (start would run the built-in default: the console relay on 127.0.0.1)'
        )
      return checkConfig(file)
    }
    case 'migrate': {
      const { config } = loadFor(values.config ?? positionals[0])
      if (config.store.driver === 'postgres') {
        const { migratePostgres } = await import('./store/postgres-schema.js')
        await migratePostgres(config.store.url, config.store.schema)
      } else {
        const { openStore } = await import('./store/index.js')
        await (await openStore(config.store)).close()
      }
      console.log(`store ${config.store.driver} is up to date`)
      return
    }
    case 'init': {
      const { init, terminalAsker } = await import('./setup/init.js')
      const terminal = process.stdin.isTTY && process.stdout.isTTY ? terminalAsker() : undefined
      try {
        const written = await init({
          dir: values.dir ?? '.',
          force: values.force ?? false,
          flags: Object.fromEntries(Object.entries(values).filter(([, v]) => typeof v === 'string')) as Record<
            string,
            string
          >,
          env: process.env,
          ask: terminal?.ask
        })
        console.log(`wrote ${written.configFile}\nwrote ${written.envFile} (the secrets; readable by you alone, git-ignored)
next: npx gptbots-relay doctor   (checks the tokens and channels), then npm start`)
      } finally {
        terminal?.close()
      }
      return
    }
    case 'doctor': {
      const file = configFileFor(values.config ?? positionals[0])
      if (!file)
        throw new ConfigError(
          'no config file to check: pass --config FILE, set GPTBOTS_RELAY_CONFIG, or create one with gptbots-relay init'
        )
      const loaded = loadConfigFile(file)
      warn(loaded)
      const { doctor, report } = await import('./setup/doctor.js')
      const { checks, urls } = await doctor(loaded, { post: values.post ?? false, env: process.env })
      console.log(report(checks))
      if (urls.length > 0) console.log(`\nto paste:\n${urls.map(u => `  ${u}`).join('\n')}`)
      const failed = checks.filter(c => !c.ok).length
      console.log(
        failed === 0 ? `\nall ${checks.length} checks passed` : `\n${failed} of ${checks.length} checks failed`
      )
      if (failed > 0) process.exitCode = 1
      return
    }
    case 'send-test':
      return sendTest(
        values.url ?? `http://127.0.0.1:${process.env.PORT ?? 8080}/webhook`,
        values.token ?? process.env.GPTBOTS_API_KEY,
        values.conversation
      )
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof ConfigError) console.error(`config error: ${error.message}`)
  else if (error instanceof StartupError) console.error(`cannot start: ${error.message}`)
  else if (error instanceof TypeError && (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS'))
    console.error(`${error.message}\n\n${usage.main}`)
  else console.error(error instanceof Error ? error.message : error)
  // Whatever a failed start had begun (a relay's connection, a timer) must not keep a half-alive process.
  process.exit(1)
})
