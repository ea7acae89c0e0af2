#!/usr/bin/env node
import { existsSync } from 'node:fs'
import { randomUUID } from 'node:crypto'
import { parseArgs } from 'node:util'
import { isAdminCommand, runAdminCommand } from './admin/cli.js'
import { defaultConfig, loadConfigFile, type LoadedConfig } from './config/load.js'
import { ConfigError } from './errors.js'
import { seedExample } from './seed.js'
import { StartupError } from './startup.js'

const usage = {
  main: `gptbots-relay: relay GPTBots webhook messages to Slack, Discord and your own destinations

Usage: gptbots-relay <command> [options]

Commands:
  start [--config FILE]        run the relay (default command)
  check-config FILE            validate a config file and the options of every relay
  send-test [--url URL] [--token TOKEN]
                               post GPTBots' example message to a running relay
  migrate [--config FILE]      create or upgrade the store's tables, then exit
  dead-letters [--relay R]     list dead letters of a running relay (admin API)
  replay <delivery-id> | --relay R | --conversation C --to RELAY
                               replay dead letters, or a conversation into a relay
  conversations [--conversation C]
                               list conversations, or one conversation's messages

Run "gptbots-relay <command> --help" for a command's options.`,
  start: `Usage: gptbots-relay start [--config FILE]

Runs the relay. The config comes from --config, else $GPTBOTS_RELAY_CONFIG, else ./config.json
when it exists, else a built-in default: the console relay with an open intake on 127.0.0.1.

Options:
  -c, --config FILE   the JSON config file
  -h, --help          show this help`,
  'check-config': `Usage: gptbots-relay check-config FILE

Validates FILE: its JSON, environment placeholders, every field, routes, and each relay's options
against its plugin's schema. Prints what is wrong, with paths, and exits 1; or exits 0.

Options:
  -h, --help   show this help`,
  migrate: `Usage: gptbots-relay migrate [--config FILE]

Creates or upgrades the store's tables and exits. start does this too, so this is for running it
ahead of a deploy. Safe while other replicas start or run: PostgreSQL migrations take a lock.

Options:
  -c, --config FILE   the JSON config file (found as for start)
  -h, --help          show this help`,
  'send-test': `Usage: gptbots-relay send-test [--url URL] [--token TOKEN]

Posts the example message from GPTBots' webhook documentation (with a fresh message_id, so that
repeated tests are not deduplicated) and prints the relay's answer.

Options:
  --url URL        the webhook URL (default http://127.0.0.1:$PORT/webhook, PORT defaulting to 8080)
  --token TOKEN    sent as Authorization: Bearer TOKEN (default $GPTBOTS_API_KEY, else none)
  --conversation ID  the conversation id (default the example's)
  -h, --help       show this help`
}

function loadFor(file: string | undefined): LoadedConfig {
  // An empty variable counts as unset, as a shell's `GPTBOTS_RELAY_CONFIG= npm start` means.
  const chosen = file || process.env.GPTBOTS_RELAY_CONFIG || (existsSync('config.json') ? 'config.json' : undefined)
  return chosen ? loadConfigFile(chosen) : defaultConfig()
}

async function checkConfig(file: string): Promise<void> {
  const loaded = loadConfigFile(file)
  const problems: string[] = []
  const { prepareRelay } = await import('./relays/loader.js')
  for (const [name, entry] of Object.entries(loaded.config.relays)) {
    await prepareRelay(name, entry, loaded.configDir).catch((error: Error) => problems.push(error.message))
  }
  if (problems.length > 0) throw new ConfigError(`${loaded.file}:\n${problems.join('\n')}`)
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
  })
  const text = await response.text()
  console.log(`POST ${url} → HTTP ${response.status} ${text}`)
  if (!response.ok) process.exitCode = 1
}

export async function main(argv: string[]): Promise<void> {
  if (argv[0] === 'help' || argv[0] === '--help' || argv[0] === '-h') {
    console.log(usage.main)
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
      conversation: { type: 'string' }
    }
  })
  if (values.help) {
    console.log(usage[command as keyof typeof usage])
    return
  }
  switch (command) {
    case 'start':
      // Loaded here, not at the top: the admin commands and --help start in a tenth of the time without the server.
      return (await import('./server.js')).startServer(loadFor(values.config ?? positionals[0]))
    case 'check-config': {
      const file = positionals[0] ?? values.config
      if (!file) throw new ConfigError(`check-config needs a FILE\n\n${usage['check-config']}`)
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
