import { TeamsAdapter } from '@microsoft/teams-ai/lib/TeamsAdapter.js';
import {
  type Activity,
  CallerIdConstants,
  type ConfigurationBotFrameworkAuthentication,
  type ConfigurationBotFrameworkAuthenticationOptions,
  ConfigurationServiceClientCredentialFactory,
  type InvokeResponse,
  type TurnContext,
} from 'botbuilder';
import type { Config } from '../config.ts';

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

export function createBotAdapter(config: Config): TeamsAdapter {
  return new LagebotAdapter(
    botFrameworkAuthOptions(config),
    new ConfigurationServiceClientCredentialFactory({
      MicrosoftAppId: config.bot.appId,
      MicrosoftAppPassword: config.bot.appPassword,
      MicrosoftAppType: config.bot.appType ?? 'MultiTenant',
      MicrosoftAppTenantId: config.bot.tenantId,
    }),
  );
}

class LagebotAdapter extends TeamsAdapter {
  protected override processActivity(
    authHeader: string,
    activity: Activity,
    logic: TurnLogic,
  ): Promise<InvokeResponse | undefined>;
  protected override processActivity(
    authenticateRequestResult: AuthenticateRequestResult,
    activity: Activity,
    logic: TurnLogic,
  ): Promise<InvokeResponse | undefined>;
  protected override async processActivity(
    authHeaderOrResult: string | AuthenticateRequestResult,
    activity: Activity,
    logic: TurnLogic,
  ): Promise<InvokeResponse | undefined> {
    if (typeof authHeaderOrResult !== 'string') return super.processActivity(authHeaderOrResult, activity, logic);
    let authenticated: AuthenticateRequestResult;
    try {
      authenticated = await this.botFrameworkAuthentication.authenticateRequest(activity, authHeaderOrResult);
    } catch (error) {
      if (!isTokenVerificationError(error)) throw error;
      // botbuilder passes jsonwebtoken's own errors through (a bad signature under a published key id,
      // a token not valid yet: botframework-connector/lib/auth/jwtTokenExtractor.js:160-166), and
      // CloudAdapter answers 401 only for its AuthenticationError, anything else is a 500
      // (botbuilder/lib/cloudAdapter.js:107). A forged token is a 401: asking again without a token
      // makes botbuilder throw that error itself
      // (botframework-connector/lib/auth/parameterizedBotFrameworkAuthentication.js:182-183).
      await this.botFrameworkAuthentication.authenticateRequest(activity, '');
      throw error;
    }
    return super.processActivity(authenticated, activity, logic);
  }
}

/** jsonwebtoken's JsonWebTokenError and its subclasses NotBeforeError and TokenExpiredError. */
function isTokenVerificationError(error: unknown): boolean {
  return error instanceof Error && ['JsonWebTokenError', 'NotBeforeError', 'TokenExpiredError'].includes(error.name);
}
