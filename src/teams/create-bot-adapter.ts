import { TeamsAdapter } from '@microsoft/teams-ai/lib/TeamsAdapter.js';
import {
  type Activity,
  CallerIdConstants,
  type ConfigurationBotFrameworkAuthentication,
  type ConfigurationBotFrameworkAuthenticationOptions,
  ConfigurationServiceClientCredentialFactory,
  type TurnContext,
} from 'botbuilder';
import type { Config } from '../config.ts';
import { captureConsoleErrors } from './capture-console-errors.ts';
import { checkTokenTimes } from './check-token-times.ts';

// The Bot Framework adapter of /api/messages. Without MicrosoftAppId (local mode) botbuilder accepts
// unauthenticated traffic; with it every activity needs a Bot Framework JWT, whose signing keys
// botbuilder fetches from login.botframework.com, or from BOT_OPENID_METADATA_URL when set.

type AuthenticateRequestResult = Awaited<ReturnType<ConfigurationBotFrameworkAuthentication['authenticateRequest']>>;
type TurnLogic = (context: TurnContext) => Promise<void>;

// Public-cloud values of botframework-connector/lib/auth/authenticationConstants.js (lines 19, 35,
// 39, 43, 71). They are spelled out because setting any one parameter of the Bot Framework
// authentication makes botbuilder take ALL of them from the options, leaving the others undefined
// (botframework-connector/lib/auth/botFrameworkAuthenticationFactory.js:32-40) — an undefined token
// issuer would refuse every token.
const publicCloud = {
  ValidateAuthority: true,
  ToChannelFromBotLoginUrl: 'https://login.microsoftonline.com/botframework.com',
  ToChannelFromBotOAuthScope: 'https://api.botframework.com',
  ToBotFromChannelTokenIssuer: 'https://api.botframework.com',
  OAuthUrl: 'https://api.botframework.com',
  ToBotFromEmulatorOpenIdMetadataUrl: 'https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration',
  CallerId: CallerIdConstants.PublicAzureChannel,
} satisfies ConfigurationBotFrameworkAuthenticationOptions;

/** Options of botbuilder's Bot Framework authentication: `{}` is the public cloud as botbuilder ships it. */
function botFrameworkAuthOptions(config: Config): ConfigurationBotFrameworkAuthenticationOptions {
  const metadataUrl = config.bot.openIdMetadataUrl;
  if (!metadataUrl) return {};
  // Only the keys of tokens from the channels (Teams) move; emulator tokens keep Microsoft's keys.
  return { ...publicCloud, ToBotFromChannelOpenIdMetadataUrl: metadataUrl };
}

export interface BotAdapterOptions {
  /** The clock token times are checked against. */
  now?: () => number;
}

export function createBotAdapter(config: Config, options: BotAdapterOptions = {}): LagebotAdapter {
  return new LagebotAdapter(
    botFrameworkAuthOptions(config),
    new ConfigurationServiceClientCredentialFactory({
      MicrosoftAppId: config.bot.appId,
      MicrosoftAppPassword: config.bot.appPassword,
      MicrosoftAppType: config.bot.appType ?? 'MultiTenant',
      MicrosoftAppTenantId: config.bot.tenantId,
    }),
    { localMode: config.localMode, now: options.now ?? Date.now },
  );
}

/** A request refused before any turn ran: 401 for a bad or missing token, 503 when the keys cannot be had. */
export interface BotRequestRejection {
  status: 401 | 503;
  /** For the log only (botbuilder's words may quote the attacker's claims): never sent to the caller. */
  reason: string;
}

export class LagebotAdapter extends TeamsAdapter {
  readonly #localMode: boolean;
  readonly #now: () => number;

  constructor(
    auth: ConfigurationBotFrameworkAuthenticationOptions,
    credentials: ConfigurationServiceClientCredentialFactory,
    options: { localMode: boolean; now: () => number },
  ) {
    super(auth, credentials);
    this.#localMode = options.localMode;
    this.#now = options.now;
  }

  /**
   * /api/messages: authenticates the request, then runs the turn and answers as botbuilder's process()
   * would. A refused request is answered by nobody here: it is returned, so that the HTTP layer gives one
   * generic answer and one log line. (process() itself would print each refusal's stack to stderr and send
   * botbuilder's reasons, the attacker's `aud` among them, as the 401 body: botbuilder/lib/cloudAdapter.js:106-107.)
   */
  async handleRequest(
    req: { body?: unknown; headers: Record<string, string | string[] | undefined> },
    res: { status(code: number): unknown; send(body?: unknown): unknown; end(): unknown },
    logic: TurnLogic,
  ): Promise<BotRequestRejection | null> {
    const activity = activityOf(req.body);
    const header = req.headers.authorization;
    const verdict = await this.#authenticate(activity, typeof header === 'string' ? header : '');
    if ('rejection' in verdict) return verdict.rejection;
    const invokeResponse = await this.processActivity(verdict.authenticated, activity, logic);
    res.status(invokeResponse?.status ?? 200);
    if (invokeResponse?.body) res.send(invokeResponse.body);
    res.end();
    return null;
  }

  async #authenticate(
    activity: Activity,
    authHeader: string,
  ): Promise<{ authenticated: AuthenticateRequestResult } | { rejection: BotRequestRejection }> {
    if (!this.#localMode) {
      const problem = checkTokenTimes(authHeader, this.#now());
      if (problem) return { rejection: { status: 401, reason: `token refused: ${problem}` } };
    }
    const outcome = await captureConsoleErrors(() =>
      this.botFrameworkAuthentication.authenticateRequest(activity, authHeader),
    );
    if (outcome.ok) return { authenticated: outcome.value };
    const { error, captured } = outcome;
    const detail = [error instanceof Error ? error.message : String(error), ...captured].join(' | ').slice(0, 500);
    if (isKeysUnavailable(error)) return { rejection: { status: 503, reason: `signing keys unavailable: ${detail}` } };
    if (isTokenRefusal(error)) return { rejection: { status: 401, reason: detail } };
    throw error;
  }
}

/** The activity as botbuilder's validateAndFixActivity makes it (botbuilder/lib/activityValidator.js): dates parsed. */
function activityOf(body: unknown): Activity {
  const activity = body as Activity & { rawTimestamp?: string; rawExpiration?: string; rawLocalTimestamp?: string };
  const raw = activity as unknown as Record<string, unknown>;
  if (typeof raw.timestamp === 'string') {
    activity.rawTimestamp = raw.timestamp;
    activity.timestamp = new Date(raw.timestamp);
  }
  if (typeof raw.expiration === 'string') {
    activity.rawExpiration = raw.expiration;
    activity.expiration = new Date(raw.expiration);
  }
  if (typeof raw.localTimestamp === 'string') {
    activity.rawLocalTimestamp = raw.localTimestamp;
    activity.localTimestamp = new Date(raw.localTimestamp);
  }
  return activity;
}

// botbuilder passes jsonwebtoken's errors through (a bad signature under a published key id, a token not
// valid yet: botframework-connector/lib/auth/jwtTokenExtractor.js:160-166) and throws its own
// AuthenticationError (not exported by botbuilder) with statusCode 401 for the rest.
function isTokenRefusal(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (['JsonWebTokenError', 'NotBeforeError', 'TokenExpiredError'].includes(error.name)) return true;
  const status = (error as { statusCode?: unknown }).statusCode;
  return status === 401 || status === 403;
}

// The OpenID metadata or its key set could not be fetched: node-fetch's FetchError for an unreachable
// endpoint, AuthenticationError with statusCode 500 for an error answer
// (botframework-connector/lib/auth/openIdMetadata.js:70-84). Not the caller's fault: 503, ask again later.
function isKeysUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const { statusCode, code } = error as { statusCode?: unknown; code?: unknown };
  if (error.name === 'FetchError' || error.name === 'AbortError') return true;
  if (typeof code === 'string' && /^(ECONN|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH)/.test(code)) {
    return true;
  }
  return typeof statusCode === 'number' && statusCode >= 500;
}
