import type { z } from 'zod';
import type { faultRequest } from '../contracts/sim.ts';

// Injected faults per API (inventory, gateway). Whether a request is hit is drawn from the
// simulator's seeded RNG, so a failing test run can be replayed with the same seed.

export type FaultRequest = z.infer<typeof faultRequest>;
export type FaultTarget = FaultRequest['target'];

export interface Fault {
  target: FaultTarget;
  mode: 'latency' | 'error' | 'timeout';
  rate: number;
  ms: number;
  status: number;
  phase: 'before' | 'after';
  remaining: number | null; // injections left; null = unlimited
}

export interface Faults {
  set(req: FaultRequest): Fault | null;
  /** Decide whether this request is hit; counts the injection. */
  draw(target: FaultTarget): Fault | null;
  list(): Fault[];
  clear(): void;
}

// Defaults: 1 s of latency; a timeout holds the request 30 s (longer than any sane client
// timeout) before dropping the socket; an error answers 503 Service Unavailable.
const DEFAULT_MS = { latency: 1_000, timeout: 30_000, error: 0 } as const;

export function createFaults(rng: () => number): Faults {
  const active = new Map<FaultTarget, Fault>();
  return {
    set(req) {
      if (req.mode === 'none') {
        active.delete(req.target);
        return null;
      }
      const fault: Fault = {
        target: req.target,
        mode: req.mode,
        rate: req.rate,
        ms: req.ms ?? DEFAULT_MS[req.mode],
        status: req.status ?? 503,
        phase: req.phase,
        remaining: req.count ?? null,
      };
      active.set(req.target, fault);
      return { ...fault };
    },
    draw(target) {
      const fault = active.get(target);
      if (!fault) return null;
      if (rng() >= fault.rate) return null;
      if (fault.remaining !== null) {
        fault.remaining--;
        if (fault.remaining <= 0) active.delete(target);
      }
      return { ...fault };
    },
    list: () => [...active.values()].map((f) => ({ ...f })),
    clear: () => active.clear(),
  };
}
