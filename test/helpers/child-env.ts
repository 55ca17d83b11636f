import { createServer } from 'node:net';

// For tests that run Lagebot as a child process (the demo, the production build): a clean
// environment and free ports.

// Settings a developer's shell (or CI: DATABASE_URL for the store suite) may export that would point
// a child bot elsewhere: a real back end, PostgreSQL, other roles, another Playground config.
const lagebotSettings = [
  'HOST',
  'INVENTORY_API_URL',
  'INVENTORY_API_TOKEN',
  'GATEWAY_API_URL',
  'GATEWAY_API_TOKEN',
  'DATABASE_URL',
  'MicrosoftAppId',
  'MicrosoftAppPassword',
  'MicrosoftAppTenantId',
  'MicrosoftAppType',
  'BOT_OPENID_METADATA_URL',
  'ALLOWED_TENANTS',
  'ROLES_FILE',
  'APPROVERS_CONVERSATION',
  'BOT_LANGUAGE',
  'PLAYGROUND',
  'SIM_SCENARIO',
  'SIM_SEED',
  'SIM_DEVICES',
  'REQUEST_TTL',
  'REPLICA_ID',
  'M365_AGENTS_PLAYGROUND_CONFIG_PATH',
];

/** A copy of env without the settings above: the child gets the defaults unless the test sets them. */
export function withoutLagebotSettings(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...env };
  for (const key of lagebotSettings) delete out[key];
  return out;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (!address || typeof address === 'string') throw new Error('no port from the OS');
  return address.port;
}
