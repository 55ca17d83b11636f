import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { berlinInstant, latestReportSlot, parseReportTime } from '../../../src/domain/report-slot.ts';

const iso = (s: { at: Date } | null) => s?.at.toISOString() ?? null;

describe('report slots in Europe/Berlin', () => {
  test('times: H:MM, HH:MM, HH.MM; 24:00, 25:00, 7:60 and words are not times', () => {
    assert.equal(parseReportTime('8:00'), '08:00');
    assert.equal(parseReportTime('07.30'), '07:30');
    assert.equal(parseReportTime('23:59'), '23:59');
    for (const bad of ['25:00', '24:00', '7:60', '8', '0800', 'acht', ''])
      assert.equal(parseReportTime(bad), null, bad);
  });

  test('08:00 is 07:00 UTC in February 2024, every day', () => {
    for (const day of [15, 16, 17, 18, 19, 20]) {
      const now = new Date(Date.UTC(2024, 1, day, 7, 0, 0));
      const slot = latestReportSlot('08:00', false, now);
      assert.equal(slot?.localDate, `2024-02-${day}`);
      assert.equal(iso(slot), now.toISOString());
    }
    // A minute before: yesterday's.
    assert.equal(latestReportSlot('08:00', false, new Date('2024-02-19T06:59:00Z'))?.localDate, '2024-02-18');
  });

  test('across the change to summer time (31 March 2024) 08:00 stays 08:00 local', () => {
    assert.equal(iso(latestReportSlot('08:00', false, new Date('2024-03-30T12:00:00Z'))), '2024-03-30T07:00:00.000Z');
    assert.equal(iso(latestReportSlot('08:00', false, new Date('2024-03-31T12:00:00Z'))), '2024-03-31T06:00:00.000Z');
    assert.equal(iso(latestReportSlot('08:00', false, new Date('2024-04-01T12:00:00Z'))), '2024-04-01T06:00:00.000Z');
    // 02:30 does not exist on 31 March: the moment after the gap.
    assert.equal(berlinInstant(2024, 3, 31, 2, 30).toISOString(), '2024-03-31T01:30:00.000Z');
    // And back in October: 08:00 is 07:00 UTC again.
    assert.equal(iso(latestReportSlot('08:00', false, new Date('2024-10-27T12:00:00Z'))), '2024-10-27T07:00:00.000Z');
  });

  test('werktags: the weekend has no slot; Monday morning before 08:00 the latest is Friday’s', () => {
    assert.equal(latestReportSlot('08:00', true, new Date('2024-02-17T12:00:00Z'))?.localDate, '2024-02-16');
    assert.equal(latestReportSlot('08:00', true, new Date('2024-02-19T06:00:00Z'))?.localDate, '2024-02-16');
    assert.equal(latestReportSlot('08:00', true, new Date('2024-02-19T07:00:00Z'))?.localDate, '2024-02-19');
  });
});
