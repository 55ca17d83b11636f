import { generateKeyPairSync, type KeyObject, sign as signBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigurationServiceClientCredentialFactory } from 'botbuilder';

// A local stand-in for login.botframework.com: an OpenID configuration document and a JWKS with
// RSA keys generated at start, plus a signer for RS256 tokens like the ones the Bot Connector
// service puts on every request to /api/messages. node:crypto only.

/** Issuer of tokens from the Bot Framework channels (botframework-connector authenticationConstants.js:39). */
export const botFrameworkIssuer = 'https://api.botframework.com';

export interface PublishedKey {
  kid: string;
  /** Channels the key may sign for; botbuilder refuses a token whose activity's channelId is not listed. */
  endorsements: string[];
}

export interface SignOptions {
  /** Private key to sign with; default: the published key named by `kid`. */
  key?: KeyObject;
  /** `kid` header; default: the first published key. */
  kid?: string;
  /** Seconds from now until `exp`; negative for a token that has expired. Default 3600. */
  expiresIn?: number;
}

export interface FakeOpenIdServer {
  /** Where botbuilder reads the OpenID configuration (BOT_OPENID_METADATA_URL). */
  metadataUrl: string;
  jwksUrl: string;
  /** kid of the first published key. */
  kid: string;
  /** Paths requested so far, in order. */
  requests: string[];
  sign(claims: Record<string, unknown>, options?: SignOptions): string;
  close(): Promise<void>;
}

/** Starts the key server on 127.0.0.1 with an ephemeral port. Default: one key endorsed for msteams. */
export async function startFakeOpenIdServer(
  keys: PublishedKey[] = [{ kid: 'lagebot-test-key', endorsements: ['msteams'] }],
): Promise<FakeOpenIdServer> {
  const first = keys[0];
  if (!first) throw new Error('startFakeOpenIdServer: publish at least one key');
  const privateKeys = new Map<string, KeyObject>();
  const jwks = keys.map(({ kid, endorsements }) => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    privateKeys.set(kid, privateKey);
    return { ...publicKey.export({ format: 'jwk' }), kid, use: 'sig', alg: 'RS256', endorsements };
  });

  const requests: string[] = [];
  let base = '';
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    requests.push(path);
    // Not chained: restify (loaded by the bot in the same test process) replaces
    // http.ServerResponse.prototype.writeHead with one that returns undefined.
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method === 'GET' && path === '/.well-known/openid-configuration') {
      send(200, {
        issuer: botFrameworkIssuer,
        authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
        jwks_uri: `${base}/keys`,
        id_token_signing_alg_values_supported: ['RS256'],
        token_endpoint_auth_methods_supported: ['private_key_jwt'],
      });
    } else if (req.method === 'GET' && path === '/keys') {
      send(200, { keys: jwks });
    } else {
      send(404, { error: 'not_found' });
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    metadataUrl: `${base}/.well-known/openid-configuration`,
    jwksUrl: `${base}/keys`,
    kid: first.kid,
    requests,
    sign(claims, options = {}) {
      const kid = options.kid ?? first.kid;
      const key = options.key ?? privateKeys.get(kid);
      if (!key) throw new Error(`sign: no key given and no published key with kid ${kid}`);
      const now = Math.floor(Date.now() / 1000);
      const exp = now + (options.expiresIn ?? 3600);
      // A token that expired was also issued in the past.
      const iat = Math.min(now, exp - 3600);
      const header = { alg: 'RS256', typ: 'JWT', kid };
      const payload = { iat, nbf: iat, exp, ...claims };
      const signingInput = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(payload))}`;
      const signature = signBytes('RSA-SHA256', Buffer.from(signingInput), key).toString('base64url');
      return `${signingInput}.${signature}`;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * Puts an access token for the bot's outgoing calls (replies to the Bot Connector) into botbuilder's
 * token cache, so sending needs no login.microsoftonline.com. botbuilder's credentials look there
 * first (botframework-connector/lib/auth/appCredentials.js:136-145; one static map, key made of app
 * id and scope at :81) and only on a miss ask MSAL, which accepts https authorities only
 * (@azure/msal-node/lib/msal-node.cjs:2550-2552) — so a local token endpoint cannot stand in for it.
 */
export async function primeBotTokenCache(appId: string, appPassword: string, accessToken: string): Promise<void> {
  const credentials = (await new ConfigurationServiceClientCredentialFactory({
    MicrosoftAppId: appId,
    MicrosoftAppPassword: appPassword,
  }).createCredentials(
    appId,
    // The audience of replies to channels and the login URL of multi-tenant bots (authenticationConstants.js:19, 35).
    'https://api.botframework.com',
    'https://login.microsoftonline.com/botframework.com',
    true,
  )) as unknown as { tokenCacheKey?: unknown; constructor: { cache?: unknown } };
  const cache = credentials.constructor.cache;
  const cacheKey = credentials.tokenCacheKey;
  if (!(cache instanceof Map) || typeof cacheKey !== 'string') {
    throw new Error(
      'primeBotTokenCache: botbuilder no longer keeps AppCredentials.cache/tokenCacheKey; update this helper',
    );
  }
  cache.set(cacheKey, { accessToken, expiresOn: new Date(Date.now() + 3_600_000) });
}

function base64url(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url');
}
