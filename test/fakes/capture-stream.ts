import { Writable } from 'node:stream';

// A destination for createLogger(level, destination) that keeps every line in memory.

export interface CaptureStream {
  stream: Writable;
  /** Everything written so far. */
  text(): string;
  /** The JSON log records written so far. */
  records(): Array<Record<string, unknown>>;
}

export function createCaptureStream(): CaptureStream {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      chunks.push(chunk.toString());
      callback();
    },
  });
  const text = () => chunks.join('');
  return {
    stream,
    text,
    records: () =>
      text()
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}
