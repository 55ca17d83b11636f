import { hostname } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { parseAuditKeys } from './adapters/store/parse-audit-keys.ts';

// The only module that reads the environment. Everything else receives a Config.

const emptyToUndefined = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);
const optionalString = z.preprocess(emptyToUndefined, z.string().optional());
const optionalUrl = (what: string) =>
  z.preprocess(
    emptyToUndefined,
    z
      .string()
      .url({ message: `expected an http(s) URL of the ${what}` })
      .optional(),
  );
const port = (fallback: number) =>
  z.preprocess(
    emptyToUndefined,
    z.coerce
      .number({ invalid_type_error: 'expected a port number' })
      .int('expected a whole port number')
      .min(0, 'expected a port from 0 to 65535')
      .max(65535, 'expected a port from 0 to 65535')
      .default(fallback),
  );
const positiveInt = (fallback: number, what: string, max = Number.MAX_SAFE_INTEGER) =>
  z.preprocess(
    emptyToUndefined,
    z.coerce
      .number({ invalid_type_error: `expected ${what}` })
      .int(`expected ${what}`)
      .positive(`expected ${what}`)
      .max(max, `expected ${what} up to ${max}`)
      .default(fallback),
  );

/** "4h", "90m", "30s", "1d" or a number of seconds → milliseconds. */
export function parseDuration(text: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/i.exec(text);
  if (!m) return null;
  const n = Number(m[1]);
  const unit = (m[2] ?? 's').toLowerCase();
  const factor = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[unit] ?? 1000;
  const ms = Math.round(n * factor);
  return ms > 0 ? ms : null;
}

const duration = (fallback: string) =>
  z.preprocess(
    emptyToUndefined,
    z
      .string()
      .default(fallback)
      .transform((v, ctx) => {
        const ms = parseDuration(v);
        if (ms === null) {
          ctx.addIssue({
            code: z.ZodIssueCode.custom,
            message: 'expected a duration such as 4h, 90m or 3600 (seconds)',
          });
          return z.NEVER;
        }
        return ms;
      }),
  );

// A duration, or 0/off for "never" (null).
const durationOrOff = (fallback: string) =>
  z.preprocess(
    emptyToUndefined,
    z
      .string()
      .default(fallback)
      .transform((v, ctx) => {
        if (/^\s*(0|off|aus|false|no)\s*$/i.test(v)) return null;
        const ms = parseDuration(v);
        if (ms === null) {
          ctx.addIssue({
            code: z.ZodIssueCode.custom,
            message: 'expected a duration such as 15m, 1h or 900 (seconds), or 0/off',
          });
          return z.NEVER;
        }
        return ms;
      }),
  );

// A duration whose default is another setting's value (undefined here, resolved in loadConfig).
const optionalDuration = () =>
  z.preprocess(
    emptyToUndefined,
    z
      .string()
      .optional()
      .transform((v, ctx) => {
        if (v === undefined) return undefined;
        const ms = parseDuration(v);
        if (ms === null || ms <= 0) {
          ctx.addIssue({
            code: z.ZodIssueCode.custom,
            message: 'expected a duration such as 4h, 90m or 3600 (seconds)',
          });
          return z.NEVER;
        }
        return ms;
      }),
  );

const onOff = (fallback: boolean) =>
  z.preprocess(
    emptyToUndefined,
    z
      .enum(['on', 'off', 'true', 'false', '1', '0', 'yes', 'no'], {
        errorMap: () => ({ message: 'expected on or off' }),
      })
      .optional()
      .transform((v) => (v === undefined ? fallback : ['on', 'true', '1', 'yes'].includes(v))),
  );

const envSchema = z.object({
  PORT: port(3978),
  HOST: optionalString,
  SIM_PORT: port(3979),
  INVENTORY_API_URL: optionalUrl('inventory API, e.g. https://inventory.example/inventory/v1'),
  INVENTORY_API_TOKEN: optionalString,
  GATEWAY_API_URL: optionalUrl('gateway-control API, e.g. https://gateway.example/gateway/v1'),
  GATEWAY_API_TOKEN: optionalString,
  UPSTREAM_TIMEOUT_MS: positiveInt(5000, 'a timeout in milliseconds', 120_000),
  GATEWAY_CONCURRENCY: positiveInt(16, 'a number of gateway calls at once', 1000),
  DATA_DIR: z.preprocess(emptyToUndefined, z.string().default('./data')),
  DATABASE_URL: z.preprocess(
    emptyToUndefined,
    z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'expected a PostgreSQL URL such as postgres://user@host:5432/lagebot')
      .optional(),
  ),
  MicrosoftAppId: optionalString,
  MicrosoftAppPassword: optionalString,
  MicrosoftAppTenantId: optionalString,
  MicrosoftAppType: z.preprocess(
    emptyToUndefined,
    z
      .enum(['MultiTenant', 'SingleTenant', 'UserAssignedMSI'], {
        errorMap: () => ({ message: 'expected MultiTenant, SingleTenant or UserAssignedMSI' }),
      })
      .optional(),
  ),
  // Where botbuilder fetches the Bot Framework signing keys. Only tests (a local key server) and
  // sovereign clouds change it.
  BOT_OPENID_METADATA_URL: optionalUrl('OpenID metadata document'),
  ALLOWED_TENANTS: z.preprocess(
    emptyToUndefined,
    z
      .string()
      .optional()
      .transform((v) =>
        v
          ? v
              .split(',')
              .map((s) => s.trim())
              .filter(Boolean)
          : [],
      ),
  ),
  // Browser origins allowed to POST to /api/messages (scheme://host[:port], comma-separated). None by
  // default: neither the Bot Connector nor the Agents Playground's server sends an Origin (issue 13).
  ALLOWED_ORIGINS: z.preprocess(
    emptyToUndefined,
    z
      .string()
      .optional()
      .transform((v) =>
        v
          ? v
              .split(',')
              .map((s) => s.trim().replace(/\/$/, ''))
              .filter(Boolean)
          : [],
      )
      .refine((list) => list.every((o) => /^https?:\/\/[^/\s?#]+$/i.test(o)), {
        message: 'expected origins such as https://teams.example:8443, comma-separated, without a path',
      }),
  ),
  ROLES_FILE: optionalString,
  APPROVERS_CONVERSATION: optionalString,
  REQUEST_TTL: duration('4h'),
  // Reminders, escalation and the daily report (README "Reminders, escalation and reports").
  APPROVAL_REMINDER: durationOrOff('15m'),
  APPROVAL_REMINDER_MAX: positiveInt(3, 'a number of reminders', 100),
  APPROVAL_ESCALATION: durationOrOff('1h'),
  CATCH_UP_WINDOW: duration('2h'),
  // How long a partially failed request may be retried; unset = REQUEST_TTL.
  REQUEST_RETRY_WINDOW: optionalDuration(),
  SPAM_WATCH_INTERVAL_SECONDS: positiveInt(60, 'a number of seconds', 86_400),
  STATUS_CACHE_SECONDS: z.preprocess(emptyToUndefined, z.coerce.number().min(0).max(3600).default(15)),
  SIM_SPEED: z.preprocess(
    emptyToUndefined,
    z.coerce
      .number({ invalid_type_error: 'expected a number (sim minutes per real minute)' })
      .min(0, 'expected 0 or more')
      .max(10_000, 'expected at most 10000')
      .optional(),
  ),
  // Clients + servers; the default is the estate of docs/product.md: 10,000 clients and 400 servers.
  SIM_DEVICES: positiveInt(10_400, 'a number of devices (clients + servers)', 2_000_000),
  SIM_SEED: positiveInt(20240215, 'a positive whole number'),
  SIM_SCENARIO: z.preprocess(
    emptyToUndefined,
    z
      .enum(['feb-2024', 'all-patched', 'empty', 'land'], {
        errorMap: () => ({ message: 'expected feb-2024, all-patched, empty or land' }),
      })
      .default('feb-2024'),
  ),
  PLAYGROUND: onOff(true),
  PLAYGROUND_PORT: port(56150),
  // off: this replica never runs the spam watcher (tests; a replica meant only for chat).
  SPAM_WATCHER: onOff(true),
  // How often expired requests are expired and interrupted executions resumed.
  SWEEP_INTERVAL_SECONDS: positiveInt(15, 'a number of seconds', 3600),
  // Per user: a burst of commands/card actions, then this many per minute (docs/decisions/hardening.md).
  USER_RATE_LIMIT_BURST: positiveInt(20, 'a number of actions', 100_000),
  USER_RATE_LIMIT_PER_MINUTE: positiveInt(30, 'a number of actions per minute', 100_000),
  // auto: German unless the Teams client's locale is English. de/en: always that language (the Agents
  // Playground sends en-US whatever the browser says, so the German demo sets de).
  BOT_LANGUAGE: z.preprocess(
    emptyToUndefined,
    z.enum(['auto', 'de', 'en'], { errorMap: () => ({ message: 'expected auto, de or en' }) }).default('auto'),
  ),
  // Names this replica in outbox claims and the watcher lease; replicas need distinct ids.
  REPLICA_ID: z.preprocess(emptyToUndefined, z.string().max(200).optional()),
  // The audit log's key (issue 13, README "Audit log"): `<id>:<secret>` entries, the last one current.
  // AUDIT_KEY holds them, AUDIT_KEY_FILE names a file that does; outside local mode one of them is required.
  AUDIT_KEY: z.preprocess(
    emptyToUndefined,
    z
      .string()
      .optional()
      .superRefine((v, ctx) => {
        const parsed = v === undefined ? null : parseAuditKeys(v);
        if (parsed && !parsed.ok) ctx.addIssue({ code: z.ZodIssueCode.custom, message: parsed.problem });
      }),
  ),
  AUDIT_KEY_FILE: optionalString,
  // Append-only checkpoints of the audit chain; default <DATA_DIR>/audit-anchors.jsonl.
  AUDIT_ANCHOR_FILE: optionalString,
  // A Teams channel that gets a short checkpoint post now and then and at shutdown.
  AUDIT_ANCHOR_CONVERSATION: optionalString,
  AUDIT_ANCHOR_INTERVAL: duration('1h'),
  LOG_LEVEL: z.preprocess(
    emptyToUndefined,
    z
      .enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'], {
        errorMap: () => ({ message: 'expected trace, debug, info, warn, error, fatal or silent' }),
      })
      .default('info'),
  ),
});

type Env = z.infer<typeof envSchema>;

export interface Config {
  port: number;
  host: string;
  simPort: number;
  inventory: { url: string | undefined; token: string | undefined };
  gateway: { url: string | undefined; token: string | undefined };
  /** True when at least one back end has no URL: the embedded simulator is started for it. */
  useEmbeddedSimulator: boolean;
  upstreamTimeoutMs: number;
  /** Gateway changes the executor sends at once, across all requests. */
  gatewayConcurrency: number;
  dataDir: string;
  databaseUrl: string | undefined;
  bot: {
    appId: string | undefined;
    appPassword: string | undefined;
    tenantId: string | undefined;
    appType: 'MultiTenant' | 'SingleTenant' | 'UserAssignedMSI' | undefined;
    openIdMetadataUrl: string | undefined;
  };
  /** Local mode: no MicrosoftAppId, unauthenticated traffic accepted (Playground, tests). */
  localMode: boolean;
  allowedTenants: string[];
  allowedOrigins: string[];
  rolesFile: string | undefined;
  approversConversation: string | undefined;
  requestTtlMs: number;
  nudges: {
    /** null: no reminders (APPROVAL_REMINDER=0/off). */
    reminderMs: number | null;
    reminderMax: number;
    /** null: no escalation. */
    escalationMs: number | null;
    /** A report missed by at most this much (the bot was down) is sent late; later it is skipped. */
    catchUpWindowMs: number;
  };
  requestRetryWindowMs: number;
  spamWatchIntervalSeconds: number;
  statusCacheSeconds: number;
  sim: {
    speed: number | undefined;
    devices: number;
    seed: number;
    scenario: 'feb-2024' | 'all-patched' | 'empty' | 'land';
  };
  playground: { enabled: boolean; port: number };
  logLevel: Env['LOG_LEVEL'];
  replicaId: string;
  language: 'auto' | 'de' | 'en';
  userRateLimit: { capacity: number; refillPerSecond: number };
  sweepIntervalMs: number;
  noSpamWatcher: boolean;
  audit: {
    /** AUDIT_KEY as given (`<id>:<secret>` entries); named so that log scrubbing hides it. */
    keySecret: string | undefined;
    keyFile: string | undefined;
    /** undefined only for a store in memory (DATA_DIR=:memory:) without AUDIT_ANCHOR_FILE. */
    anchorFile: string | undefined;
    anchorConversation: string | undefined;
    anchorIntervalMs: number;
  };
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
  }
}

/** One line per wrong variable, secrets never echoed; every entry point's environment goes through it. */
function parseEnv<S extends z.ZodTypeAny>(schema: S, env: Record<string, string | undefined>): z.output<S> {
  const parsed = schema.safeParse(env);
  if (parsed.success) return parsed.data;
  throw new ConfigError(
    parsed.error.issues.map((issue) => {
      const name = String(issue.path[0] ?? '?');
      const shown = /PASSWORD|TOKEN|SECRET|^AUDIT_KEY$/i.test(name) ? '(hidden)' : JSON.stringify(env[name]);
      return `Invalid configuration: ${name}=${shown}: ${issue.message}`;
    }),
  );
}

/** Reads and validates the configuration; a wrong value throws a ConfigError with one line per variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const e = parseEnv(envSchema, env);
  const problems: string[] = [];
  if (e.MicrosoftAppId && !e.MicrosoftAppPassword && e.MicrosoftAppType !== 'UserAssignedMSI') {
    problems.push(
      'Invalid configuration: MicrosoftAppPassword is empty: set the client secret of the Azure Bot registration',
    );
  }
  if (e.MicrosoftAppType === 'SingleTenant' && !e.MicrosoftAppTenantId) {
    problems.push('Invalid configuration: MicrosoftAppTenantId is empty: SingleTenant bots need their tenant id');
  }
  if (e.INVENTORY_API_URL && e.GATEWAY_API_URL === undefined) {
    problems.push(
      'Invalid configuration: GATEWAY_API_URL is empty while INVENTORY_API_URL is set: set both or neither',
    );
  }
  if (e.GATEWAY_API_URL && e.INVENTORY_API_URL === undefined) {
    problems.push(
      'Invalid configuration: INVENTORY_API_URL is empty while GATEWAY_API_URL is set: set both or neither',
    );
  }
  if (e.AUDIT_KEY && e.AUDIT_KEY_FILE) {
    problems.push('Invalid configuration: AUDIT_KEY and AUDIT_KEY_FILE are both set: set one of them');
  }
  if (problems.length > 0) throw new ConfigError(problems);
  const localMode = !e.MicrosoftAppId;
  return {
    port: e.PORT,
    // Local mode accepts unauthenticated traffic, so it listens on loopback only unless told otherwise.
    host: e.HOST ?? (localMode ? '127.0.0.1' : '0.0.0.0'),
    simPort: e.SIM_PORT,
    inventory: { url: e.INVENTORY_API_URL, token: e.INVENTORY_API_TOKEN },
    gateway: { url: e.GATEWAY_API_URL, token: e.GATEWAY_API_TOKEN },
    useEmbeddedSimulator: !e.INVENTORY_API_URL || !e.GATEWAY_API_URL,
    upstreamTimeoutMs: e.UPSTREAM_TIMEOUT_MS,
    gatewayConcurrency: e.GATEWAY_CONCURRENCY,
    dataDir: e.DATA_DIR,
    databaseUrl: e.DATABASE_URL,
    bot: {
      appId: e.MicrosoftAppId,
      appPassword: e.MicrosoftAppPassword,
      tenantId: e.MicrosoftAppTenantId,
      appType: e.MicrosoftAppType,
      openIdMetadataUrl: e.BOT_OPENID_METADATA_URL,
    },
    localMode,
    allowedTenants: e.ALLOWED_TENANTS,
    allowedOrigins: e.ALLOWED_ORIGINS,
    rolesFile: e.ROLES_FILE,
    approversConversation: e.APPROVERS_CONVERSATION,
    requestTtlMs: e.REQUEST_TTL,
    nudges: {
      reminderMs: e.APPROVAL_REMINDER,
      reminderMax: e.APPROVAL_REMINDER_MAX,
      escalationMs: e.APPROVAL_ESCALATION,
      catchUpWindowMs: e.CATCH_UP_WINDOW,
    },
    requestRetryWindowMs: e.REQUEST_RETRY_WINDOW ?? e.REQUEST_TTL,
    spamWatchIntervalSeconds: e.SPAM_WATCH_INTERVAL_SECONDS,
    statusCacheSeconds: e.STATUS_CACHE_SECONDS,
    sim: { speed: e.SIM_SPEED, devices: e.SIM_DEVICES, seed: e.SIM_SEED, scenario: e.SIM_SCENARIO },
    playground: { enabled: e.PLAYGROUND, port: e.PLAYGROUND_PORT },
    logLevel: e.LOG_LEVEL,
    language: e.BOT_LANGUAGE,
    sweepIntervalMs: e.SWEEP_INTERVAL_SECONDS * 1000,
    noSpamWatcher: !e.SPAM_WATCHER,
    userRateLimit: { capacity: e.USER_RATE_LIMIT_BURST, refillPerSecond: e.USER_RATE_LIMIT_PER_MINUTE / 60 },
    replicaId: e.REPLICA_ID ?? `${hostname()}:${e.PORT}`,
    audit: {
      keySecret: e.AUDIT_KEY,
      keyFile: e.AUDIT_KEY_FILE,
      anchorFile:
        e.AUDIT_ANCHOR_FILE ?? (e.DATA_DIR === ':memory:' ? undefined : join(e.DATA_DIR, 'audit-anchors.jsonl')),
      anchorConversation: e.AUDIT_ANCHOR_CONVERSATION,
      anchorIntervalMs: e.AUDIT_ANCHOR_INTERVAL,
    },
  };
}

// `lagebot gateway-agent` (src/gateway-agent/) runs on the gateway host and reads its own variables.
const gatewayAgentEnv = z.object({
  GATEWAY_AGENT_PORT: port(3980),
  GATEWAY_AGENT_HOST: z.preprocess(emptyToUndefined, z.string().default('127.0.0.1')),
  GATEWAY_API_TOKEN: optionalString,
  GATEWAY_DOMAINS_FILE: optionalString,
  GATEWAY_AGENT_STATE: optionalString,
  DATA_DIR: z.preprocess(emptyToUndefined, z.string().default('./data')),
  POSTFIX_CONFIG_DIR: z.preprocess(emptyToUndefined, z.string().default('/etc/postfix')),
  POSTFIX_MAP_DIR: optionalString,
  RSPAMD_CONTROLLER_URL: z.preprocess(emptyToUndefined, z.string().url().default('http://127.0.0.1:11334')),
  RSPAMD_LOG_FILE: z.preprocess(emptyToUndefined, z.string().default('/var/log/rspamd/rspamd.log')),
});

export interface GatewayAgentConfig {
  port: number;
  host: string;
  token: string | undefined;
  domainsFile: string | undefined;
  statePath: string;
  postfixConfigDir: string;
  mapDir: string;
  rspamd: { controllerUrl: string; logFile: string };
}

export function loadGatewayAgentConfig(env: Record<string, string | undefined> = process.env): GatewayAgentConfig {
  const e = parseEnv(gatewayAgentEnv, env);
  return {
    port: e.GATEWAY_AGENT_PORT,
    host: e.GATEWAY_AGENT_HOST,
    token: e.GATEWAY_API_TOKEN,
    domainsFile: e.GATEWAY_DOMAINS_FILE,
    statePath: e.GATEWAY_AGENT_STATE ?? join(e.DATA_DIR, 'gateway-agent.sqlite'),
    postfixConfigDir: e.POSTFIX_CONFIG_DIR,
    mapDir: e.POSTFIX_MAP_DIR ?? join(e.POSTFIX_CONFIG_DIR, 'lagebot'),
    rspamd: { controllerUrl: e.RSPAMD_CONTROLLER_URL, logFile: e.RSPAMD_LOG_FILE },
  };
}

// `npm run mail-lab` (src/mail-lab/): a Postfix + rspamd + sink + gateway agent lab on loopback ports.
const mailLabEnv = z.object({
  DATA_DIR: z.preprocess(emptyToUndefined, z.string().default('./data')),
  MAIL_LAB_SMTP_PORT: port(2525),
  MAIL_LAB_HTTP_PORT: port(3981),
  MAIL_LAB_SINK_PORT: port(2526),
  MAIL_LAB_RSPAMD_PORT: port(11432),
  GATEWAY_AGENT_PORT: port(3980),
  GATEWAY_API_TOKEN: optionalString,
  GATEWAY_DOMAINS_FILE: optionalString,
});

export interface MailLabConfig {
  dir: string;
  ports: { smtp: number; http: number; sinkSmtp: number; agent: number; rspamd: number };
  token: string | undefined;
  domainsFile: string | undefined;
}

export function loadMailLabConfig(env: Record<string, string | undefined> = process.env): MailLabConfig {
  const e = parseEnv(mailLabEnv, env);
  return {
    dir: join(e.DATA_DIR, 'mail-lab'),
    ports: {
      smtp: e.MAIL_LAB_SMTP_PORT,
      http: e.MAIL_LAB_HTTP_PORT,
      sinkSmtp: e.MAIL_LAB_SINK_PORT,
      agent: e.GATEWAY_AGENT_PORT,
      rspamd: e.MAIL_LAB_RSPAMD_PORT,
    },
    token: e.GATEWAY_API_TOKEN,
    domainsFile: e.GATEWAY_DOMAINS_FILE,
  };
}
