import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { readKernelPeakRss, startRssSampler } from './sample-rss.ts';

describe('startRssSampler', () => {
  test('keeps the highest reading as the peak and the last as current; resetPeak starts a new window', () => {
    const readings = [100, 300, 200, 150, 120];
    let i = 0;
    // The heap total is read only when a new peak is seen: 10× the RSS reading that set it.
    const sampler = startRssSampler(
      60_000,
      () => readings[Math.min(i++, readings.length - 1)]!,
      () => readings[Math.min(i - 1, readings.length - 1)]! * 10,
    );
    sampler.read(); // 300
    const a = sampler.read(); // 200
    assert.equal(a.currentBytes, 200);
    assert.equal(a.peakSampledBytes, 300);
    assert.equal(a.heapTotalAtPeakBytes, 3000);
    assert.equal(a.samples, 3);
    sampler.resetPeak(); // 150
    const b = sampler.stop(); // 120
    assert.equal(b.currentBytes, 120);
    assert.equal(b.peakSampledBytes, 150);
    assert.equal(b.heapTotalAtPeakBytes, 1500);
    assert.equal(b.liveHeapBytes, null);
  });
});

describe('readKernelPeakRss', () => {
  test('reads VmHWM in kB from a /proc status file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rss-'));
    try {
      const file = join(dir, 'status');
      writeFileSync(file, 'Name:\tnode\nVmPeak:\t 1000 kB\nVmHWM:\t  204800 kB\nVmRSS:\t 100000 kB\n');
      assert.equal(readKernelPeakRss(file), 204800 * 1024);
      writeFileSync(file, 'Name:\tnode\n');
      assert.equal(readKernelPeakRss(file), null);
      assert.equal(readKernelPeakRss(join(dir, 'missing')), null);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
