import Type, { type Static } from 'typebox'

const StringOrList = Type.Union([Type.String(), Type.Array(Type.String(), { minItems: 1 })])

export const ServerConfig = Type.Object(
  {
    host: Type.String({ default: '0.0.0.0', description: 'Address to listen on.' }),
    publicUrl: Type.Optional(
      Type.String({
        pattern: '^https?://',
        patternErrorMessage:
          'must be the URL at which GPTBots reaches this relay, starting with https://, such as https://relay.example.com',
        description:
          'The URL at which GPTBots reaches this relay from the internet (your reverse proxy or tunnel), such as https://relay.example.com. Printed at start as the webhook URL to paste into GPTBots.'
      })
    ),
    port: Type.Integer({
      minimum: 0,
      maximum: 65535,
      default: 8080,
      description: 'Port to listen on; the PORT environment variable overrides it.'
    }),
    bodyLimit: Type.Integer({
      minimum: 1024,
      default: 1048576,
      description: 'Largest webhook body accepted, in bytes; larger ones get 413.'
    }),
    headersTimeoutMs: Type.Integer({
      minimum: 100,
      default: 10000,
      description: 'A request whose headers have not all arrived after this gets 408 and its connection is closed.'
    }),
    requestTimeoutMs: Type.Integer({
      minimum: 100,
      default: 30000,
      description:
        'A request not received whole (headers and body) after this gets 408 and its connection is closed, however slowly it trickles in.'
    }),
    shutdownTimeoutMs: Type.Integer({
      minimum: 0,
      default: 10000,
      description: 'How long SIGTERM waits for in-flight deliveries.'
    })
  },
  { additionalProperties: false, default: {} }
)

export const AuthConfig = Type.Object(
  {
    tokens: Type.Array(Type.String({ minLength: 1 }), {
      default: [],
      description: "Tokens accepted on POST /webhook: the GPTBots bot's API key."
    }),
    sources: Type.Record(
      Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$' }),
      Type.Object(
        {
          tokens: Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })
        },
        { additionalProperties: false }
      ),
      { default: {}, description: 'Named sources served on POST /webhook/<name>, each with its own tokens.' }
    ),
    allowUnauthenticated: Type.Boolean({
      default: false,
      description: 'Accept webhooks without credentials where no tokens are set. Logged as a warning at every start.'
    })
  },
  { additionalProperties: false, default: {} }
)

export const SqliteStoreConfig = Type.Object(
  {
    // The default driver: a store block with only a path is a SQLite store, as the README says.
    driver: Type.Literal('sqlite', { default: 'sqlite' }),
    path: Type.String({
      minLength: 1,
      default: './data/relay.db',
      description: 'Database file, relative to the config file.'
    }),
    synchronous: Type.Enum(['FULL', 'NORMAL'], {
      default: 'FULL',
      description:
        'FULL: an acknowledged message survives power loss. NORMAL: faster; survives a crash of the process but may lose the last acknowledged messages on power loss.'
    })
  },
  { additionalProperties: false }
)

export const PostgresStoreConfig = Type.Object(
  {
    driver: Type.Literal('postgres'),
    url: Type.String({ minLength: 1, description: 'postgres://user:password@host:5432/database' }),
    schema: Type.String({
      pattern: '^[a-z_][a-z0-9_]{0,62}$',
      patternErrorMessage:
        'must be a PostgreSQL schema name of lower-case letters, digits and _, not starting with a digit, at most 63 characters',
      default: 'gptbots_relay'
    })
  },
  { additionalProperties: false }
)

export const StoreConfig = Type.Union([SqliteStoreConfig, PostgresStoreConfig], { default: { driver: 'sqlite' } })

export const DispatchConfig = Type.Object(
  {
    concurrency: Type.Integer({
      minimum: 1,
      maximum: 1024,
      default: 16,
      description: 'Conversations delivered in parallel (each conversation and relay is always one at a time).'
    }),
    maxAttempts: Type.Integer({ minimum: 1, default: 12, description: 'Attempts before a delivery is dead-lettered.' }),
    backoffBaseMs: Type.Integer({
      minimum: 1,
      default: 1000,
      description:
        'First retry delay; doubles per attempt up to backoffMaxMs, with equal jitter: each wait is between half and all of it.'
    }),
    backoffMaxMs: Type.Integer({ minimum: 1, default: 300000, description: 'Longest retry delay.' }),
    deliveryTimeoutMs: Type.Integer({
      minimum: 100,
      default: 60000,
      description: 'A delivery still running after this is aborted and retried.'
    }),
    pollIntervalMs: Type.Integer({
      minimum: 10,
      default: 1000,
      description: 'How often the store is checked for due work when nothing wakes the dispatcher.'
    }),
    leaseMs: Type.Integer({
      minimum: 1000,
      default: 5000,
      description:
        'How long a conversation stays with the replica delivering it without a heartbeat (renewed every third of it while a delivery runs): after a replica dies, another takes its conversations over within about this long. See docs/replicas.md.'
    }),
    lagWarnMs: Type.Integer({
      minimum: 0,
      default: 300000,
      description:
        "The log warns once when a relay's oldest undelivered message has waited longer than this, and says when it has caught up (back to half of it). 0 turns the warning off."
    })
  },
  { additionalProperties: false, default: {} }
)

export const RelayEntry = Type.Object(
  {
    type: Type.String({
      minLength: 1,
      description: 'A built-in relay (console, slack, discord), a path to a plugin, or an npm package name.'
    })
  },
  { additionalProperties: true }
)

export const Route = Type.Object(
  {
    match: Type.Optional(
      Type.Object(
        {
          source: Type.Optional(StringOrList),
          type: Type.Optional(
            Type.Union([
              Type.Enum(['ANSWER', 'QUESTION']),
              Type.Array(Type.Enum(['ANSWER', 'QUESTION']), { minItems: 1 })
            ])
          ),
          conversation: Type.Optional(
            Type.String({ description: 'A regular expression matched against the conversation id.' })
          ),
          component: Type.Optional(StringOrList)
        },
        { additionalProperties: false }
      )
    ),
    to: Type.Array(Type.String({ minLength: 1 }), { minItems: 1, description: 'Names of relays in `relays`.' }),
    continue: Type.Optional(Type.Boolean({ description: 'Also try the rules after this one when it matches.' }))
  },
  { additionalProperties: false }
)
export type Route = Static<typeof Route>

export const LogConfig = Type.Object(
  {
    level: Type.Enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { default: 'info' }),
    format: Type.Enum(['auto', 'json', 'pretty'], {
      default: 'auto',
      description: 'auto: pretty lines on a terminal, JSON otherwise.'
    })
  },
  { additionalProperties: false, default: {} }
)

export const IntakeConfig = Type.Object(
  {
    rateLimit: Type.Object(
      {
        max: Type.Integer({
          minimum: 0,
          default: 3000,
          description:
            'Webhook requests accepted per source per window; 0 turns the limit off. Over it: 429 with Retry-After.'
        }),
        windowMs: Type.Integer({ minimum: 100, default: 60000, description: 'The rate-limit window.' })
      },
      { additionalProperties: false, default: {} }
    ),
    backpressure: Type.Object(
      {
        maxInFlight: Type.Integer({
          minimum: 1,
          default: 256,
          description:
            'Authenticated webhook requests being read or waiting for the store at once; over it: 503 with Retry-After. Bounds their memory to maxInFlight × server.bodyLimit.'
        }),
        maxEventLoopDelayMs: Type.Integer({
          minimum: 10,
          default: 1000,
          description: 'Event-loop delay above which webhooks get 503 with Retry-After.'
        }),
        retryAfterSeconds: Type.Integer({
          minimum: 1,
          default: 5,
          description:
            "The Retry-After sent with a 503 (overloaded, or the store failed). A 429 says instead when the source's window ends."
        })
      },
      { additionalProperties: false, default: {} }
    )
  },
  { additionalProperties: false, default: {} }
)

export const AdminConfig = Type.Object(
  {
    token: Type.Optional(
      Type.String({
        minLength: 16,
        description:
          'Bearer token for /admin and the dead-letters/replay commands; without it /admin is disabled. Use ${ENV} or ${file:}.'
      })
    ),
    trustForwardedProto: Type.Boolean({
      default: false,
      description:
        'Believe X-Forwarded-Proto and X-Forwarded-Host from a reverse proxy in front of the relay: the dashboard (/ui) then marks its session cookie Secure behind HTTPS and checks form origins against the forwarded host. Only set it when your proxy sets (and overwrites) those headers.'
    })
  },
  { additionalProperties: false, default: {} }
)

export const RetentionConfig = Type.Object(
  {
    deliveredHours: Type.Number({
      minimum: 0,
      default: 168,
      description:
        'Messages delivered everywhere (and their dedupe records) are pruned after this many hours; 0 keeps them forever. Dead letters are kept until replayed or dropped.'
    }),
    intervalMinutes: Type.Number({ minimum: 1, default: 60, description: 'How often pruning runs.' })
  },
  { additionalProperties: false, default: {} }
)

export const MetricsConfig = Type.Object(
  {
    enabled: Type.Boolean({ default: true, description: 'Serve Prometheus metrics on GET /metrics.' })
  },
  { additionalProperties: false, default: {} }
)

const apiUrl = (extra = {}) =>
  Type.String({
    pattern: '^https?://',
    patternErrorMessage:
      "must be the address of GPTBots' API, such as https://api.gptbots.ai or https://api-sg.gptbots.ai",
    description: "GPTBots' API address; regional hosts are https://api-{sg|th|jp}.gptbots.ai.",
    ...extra
  })
const apiKeyEnv = (extra = {}) =>
  Type.String({
    pattern: '^[A-Za-z_][A-Za-z0-9_]*$',
    description: "The environment variable holding the bot's GPTBots API key. The key itself never goes in this file.",
    ...extra
  })
const apiKeyFile = () =>
  Type.String({
    minLength: 1,
    description: 'A file holding the API key instead (relative to the config file), such as a mounted secret.'
  })
const apiTimeoutMs = (extra = {}) =>
  Type.Integer({
    minimum: 1000,
    maximum: 120_000,
    description: 'How long one call to GPTBots may take before it counts as failed (and is retried).',
    ...extra
  })

/** One source's GPTBots API settings: a source may be another bot, with its own key and region. */
export const GptbotsSourceApi = Type.Object(
  {
    apiUrl: Type.Optional(apiUrl()),
    apiKeyEnv: Type.Optional(apiKeyEnv()),
    apiKeyFile: Type.Optional(apiKeyFile())
  },
  { additionalProperties: false }
)
export type GptbotsSourceApi = Static<typeof GptbotsSourceApi>

/**
 * GPTBots' API (read back conversations, send humans' replies, feedback), in one place: the
 * default source's settings at the top, each named source's differences under `sources`.
 */
export const GptbotsConfig = Type.Object(
  {
    apiUrl: apiUrl({ default: 'https://api.gptbots.ai' }),
    apiKeyEnv: apiKeyEnv({ default: 'GPTBOTS_API_KEY' }),
    apiKeyFile: Type.Optional(apiKeyFile()),
    timeoutMs: apiTimeoutMs({ default: 15_000 }),
    pace: Type.Object(
      {
        perMinute: Type.Integer({
          minimum: 1,
          default: 60,
          description:
            "Calls per minute to GPTBots' API per key, shared by everything that calls it. Small GPTBots plans allow few: lower it if GPTBots answers 429 often."
        }),
        burst: Type.Integer({
          minimum: 1,
          default: 10,
          description: 'Calls that may go at once before the pace applies.'
        })
      },
      { additionalProperties: false, default: {} }
    ),
    maxAttempts: Type.Integer({
      minimum: 1,
      maximum: 20,
      default: 6,
      description:
        'Tries of one read (conversation list, messages) when GPTBots answers 429, 5xx or not at all; a 429 is retried after its Retry-After.'
    }),
    sources: Type.Record(Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$' }), GptbotsSourceApi, {
      default: {},
      description:
        "Settings of named sources (auth.sources) that are other bots: each field left out is the default source's."
    })
  },
  { additionalProperties: false, default: {} }
)
export type GptbotsConfig = Static<typeof GptbotsConfig>

/** Reading back from GPTBots' API what never arrived by webhook (docs/backfill.md). */
export const BackfillConfig = Type.Object(
  {
    atStart: Type.Boolean({
      default: true,
      description:
        'At each start, read back from GPTBots what was sent since the relay last took a message (at most horizonHours back), once across replicas.'
    }),
    horizonHours: Type.Number({
      exclusiveMinimum: 0,
      default: 24,
      description: 'How far back an automatic backfill reads at most, in hours.'
    }),
    everyMinutes: Type.Integer({
      minimum: 0,
      default: 0,
      description:
        'Also read back on this schedule, the time since the last backfill (at most horizonHours); 0 (the default) turns it off.'
    }),
    sources: Type.Optional(
      Type.Array(Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$' }), {
        description:
          'The sources read back automatically (default: "default" when auth.tokens is set or there are no named sources, and every source with a key of its own in gptbots.sources). One bot read under two sources would be posted twice.'
      })
    ),
    types: Type.Array(Type.Enum(['ANSWER', 'QUESTION']), {
      minItems: 1,
      default: ['ANSWER'],
      description:
        "The turns taken in: the bot's (and human agents') answers, which are what GPTBots' webhooks bring; add QUESTION for the users' messages too."
    }),
    conversationType: Type.String({
      pattern: '^[A-Z_]+$',
      default: 'ALL',
      description: 'GPTBots conversation_type to list: ALL, API, EMBED, WIDGET, SHARE, SLACK, DISCORD, ...'
    }),
    concurrency: Type.Integer({
      minimum: 1,
      maximum: 32,
      default: 4,
      description: 'Conversations read at once (calls are paced by gptbots.pace whatever this is).'
    })
  },
  { additionalProperties: false, default: {} }
)
export type BackfillConfig = Static<typeof BackfillConfig>

export const HandoffConfig = Type.Object(
  {
    relays: Type.Array(Type.String({ minLength: 1 }), {
      minItems: 1,
      description:
        "Relays that are the desk: each gets every handoff (a thread per handoff) and takes the humans' replies. Names of relays in `relays`."
    }),
    gptbots: Type.Optional(
      Type.Object(
        {
          apiUrl: Type.Optional(apiUrl()),
          apiKeyEnv: Type.Optional(apiKeyEnv()),
          apiKeyFile: Type.Optional(apiKeyFile()),
          timeoutMs: Type.Optional(apiTimeoutMs())
        },
        {
          additionalProperties: false,
          description:
            "Another place for the default source's GPTBots API settings (the top-level `gptbots`): a field set here is used as if it were set there. A field set in both places must agree."
        }
      )
    ),
    noteMarker: Type.String({
      maxLength: 20,
      default: '//',
      description:
        'A reply in a handoff thread that starts with this is an internal note: it stays in the thread, marked as a note, and never reaches the user. The banner of each handoff shows it. An empty string turns notes off.'
    }),
    holdingReply: Type.Optional(
      Type.Object(
        {
          text: Type.String({
            minLength: 1,
            maxLength: 4000,
            description:
              'What the user is told, such as "Thanks for waiting: someone from the team will answer shortly."'
          }),
          afterSeconds: Type.Integer({
            minimum: 1,
            maximum: 3600,
            default: 30,
            description:
              "Sent when no person has answered this long after the handoff opened; keep it below GPTBots' wait timeout (60 s by default)."
          })
        },
        {
          additionalProperties: false,
          description:
            'Off unless set: a holding reply sent to the user through the human API, and shown in the thread, when no one answers in time.'
        }
      )
    )
  },
  { additionalProperties: false }
)
export type HandoffConfig = Static<typeof HandoffConfig>

export const Config = Type.Object(
  {
    $schema: Type.Optional(Type.String()),
    server: ServerConfig,
    auth: AuthConfig,
    store: StoreConfig,
    dispatch: DispatchConfig,
    relays: Type.Record(Type.String({ minLength: 1 }), RelayEntry, {
      description: 'Named relay instances, such as "slack.support".'
    }),
    routes: Type.Optional(
      Type.Array(Route, {
        description:
          'Ordered rules; the first that matches decides, unless it says continue. Without routes every relay gets every message.'
      })
    ),
    log: LogConfig,
    intake: IntakeConfig,
    admin: AdminConfig,
    retention: RetentionConfig,
    metrics: MetricsConfig,
    gptbots: GptbotsConfig,
    backfill: BackfillConfig,
    handoff: Type.Optional(HandoffConfig)
  },
  { additionalProperties: false }
)
export type Config = Static<typeof Config>
