import assert from 'node:assert/strict';

// Simulator fault injection (POST /sim/v1/faults, src/contracts/sim.ts faultRequest). One fault per
// target is active at a time; mode 'none' clears the target.

export interface SimFault {
  target: 'inventory' | 'gateway';
  mode: 'latency' | 'error' | 'timeout' | 'none';
  rate?: number;
  ms?: number;
  status?: number;
  phase?: 'before' | 'after';
  count?: number;
}

export async function setSimFault(simUrl: string, fault: SimFault): Promise<void> {
  const res = await fetch(`${simUrl}/sim/v1/faults`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ rate: 1, ...fault }),
  });
  assert.equal(res.status, 200, `POST /sim/v1/faults answered ${res.status}: ${await res.text()}`);
}

export async function clearSimFaults(simUrl: string): Promise<void> {
  await setSimFault(simUrl, { target: 'inventory', mode: 'none' });
  await setSimFault(simUrl, { target: 'gateway', mode: 'none' });
}

/** Whether the simulator still holds a fault for target (one with a count is gone once used up). */
export async function hasSimFault(simUrl: string, target: SimFault['target']): Promise<boolean> {
  const res = await fetch(`${simUrl}/sim/v1/faults`);
  const body = (await res.json()) as { active: Array<{ target: string }> };
  return body.active.some((f) => f.target === target);
}
