// What a shared test process runs (scripts/run-tests.mjs writes one small entry file per process that
// calls this): test files one after another, each loaded inside a suite named after it.
//
// The suite scopes the file: node:test attaches tests, describes and hooks to the suite whose callback is
// running, and on Node 20 that holds across the callback's `await import()` — so a file's top-level
// before/after/beforeEach/afterEach apply to its own tests only, and a failure is reported under its file's
// name and location. Awaiting each suite before importing the next file keeps files apart in time as well:
// a file's module-level code runs only after the previous file's tests and after-hooks have finished.

import { join } from 'node:path';
import { describe } from 'node:test';
import { pathToFileURL } from 'node:url';

/** @param {string} root the repository root @param {string[]} files test files relative to root */
export async function runFilesInOneProcess(root, files) {
  for (const file of files) {
    await describe(file, async () => {
      await import(pathToFileURL(join(root, file)).href);
    });
  }
}
