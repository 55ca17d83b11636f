// The simulator's clock: sim now = anchor sim time + real time elapsed since the anchor × speed.
// `speed` is a multiplier of real time (1 = real time, 60 = one sim hour per real minute,
// 0 = frozen, which is what tests use). advance() jumps instantly.

export interface SimClock {
  now(): number; // epoch ms
  speed(): number;
  advance(minutes: number): void;
  setSpeed(speed: number): void;
  set(ms: number): void;
}

export function createSimClock(startMs: number, speed: number, realNow: () => number): SimClock {
  let anchorSim = startMs;
  let anchorReal = realNow();
  let rate = speed;
  const now = () => anchorSim + Math.floor((realNow() - anchorReal) * rate);
  const rebase = (sim: number) => {
    anchorSim = sim;
    anchorReal = realNow();
  };
  return {
    now,
    speed: () => rate,
    advance(minutes) {
      rebase(now() + Math.round(minutes * 60_000));
    },
    setSpeed(next) {
      rebase(now());
      rate = next;
    },
    set(ms) {
      rebase(ms);
    },
  };
}
