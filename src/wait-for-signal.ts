/** Keeps the process alive until SIGINT/SIGTERM, then closes cleanly and exits 0. */
export function waitForSignal(close: () => Promise<void>): Promise<number> {
  return new Promise((resolve) => {
    let closing = false;
    const stop = (signal: string) => {
      if (closing) return;
      closing = true;
      console.error(`${signal} received: shutting down`);
      close().then(
        () => resolve(0),
        (error) => {
          console.error('shutdown failed:', error);
          resolve(1);
        },
      );
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
}
