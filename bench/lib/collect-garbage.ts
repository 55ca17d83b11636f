import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

// A full collection now, without starting the process with --expose-gc: between a benchmark's warm-up
// and its measured part, so that the garbage the warm-up left is collected on the warm-up's account and
// not in the first measured iterations (the alerts bench's first polls after a 2-hour warm-up cost twice
// a later poll's CPU, all of it collecting the warm-up's pages and its full write of the state).
export function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
}
