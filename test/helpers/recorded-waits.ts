// An HTTP client's wait before it retries (the API's Retry-After, or its backoff), recorded instead of
// sat out: the bot's clients take it as StartOptions.upstreamSleep. A test then sees what the client was
// asked to wait (`waits`, in ms) without spending that time on the wall clock
// (docs/decisions/clock-and-waiting.md).
export interface RecordedWaits {
  sleep: (ms: number) => Promise<void>;
  waits: number[];
}

export function recordedWaits(): RecordedWaits {
  const waits: number[] = [];
  return {
    waits,
    // On the next turn of the event loop, as a timer of 0 would: what else is due still runs in between.
    sleep: async (ms) => {
      waits.push(ms);
      await new Promise((resolve) => setImmediate(resolve));
    },
  };
}
