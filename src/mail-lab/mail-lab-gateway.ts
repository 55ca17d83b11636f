import { resolve } from 'node:path';
import { loadMailLabConfig } from '../config.ts';
import { labLayout } from './lab-layout.ts';
import { ensureMailLabUp } from './run-mail-lab.ts';

// `npm start -- --mail-lab`: the demo's gateway is the lab's agent (the lab is started if it is not up);
// the inventory stays with the embedded simulator.

export async function mailLabGateway(
  env: Record<string, string | undefined>,
): Promise<{ url: string; token: string | undefined }> {
  const config = loadMailLabConfig(env);
  const layout = labLayout(resolve(config.dir), config.ports);
  const state = await ensureMailLabUp(layout, config);
  console.log(
    `Mail lab ${state === 'running' ? 'already up' : 'started'}: SMTP 127.0.0.1:${config.ports.smtp}, agent :${config.ports.agent}`,
  );
  return { url: `http://127.0.0.1:${config.ports.agent}/gateway/v1`, token: config.token };
}
