import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { requestTtlOnSimClock } from '../../src/run-demo.ts';
import { users } from '../fakes/activities.ts';
import { advanceToMondayAfternoon, requestFrom, writeTestRoles } from '../helpers/release-helpers.ts';
import { startTestBot, type TestBot } from '../helpers/start-test-bot.ts';

// One clock per card in the demo: the request card's "Beantragt", "Läuft ab" and the policy's "Stand"
// are all simulated time (February 2024), never the machine's date next to the simulator's data.

describe('demo: one clock per card', () => {
  let t: TestBot;
  before(async () => {
    t = await startTestBot({ ROLES_FILE: writeTestRoles(), REQUEST_TTL: '4h' }, {}, { requestsOnSimClock: true });
    await advanceToMondayAfternoon(t);
  });
  after(() => t.close());

  test('a request made in the demo is stamped in simulated time, like the data beside it', async () => {
    const { text, ref } = await requestFrom(t, 'freigabe Nordverband eingehend Alle Clients gepatcht', users.operator);
    assert.ok(ref, text);
    const years = [...text.matchAll(/\d\d\.\d\d\.(\d{4})/g)].map((m) => m[1]);
    assert.ok(years.length >= 2, text);
    assert.deepEqual([...new Set(years)], ['2024'], `every date on the card is the simulator's:\n${text}`);
    assert.match(text, /Mo\., 19\.02\.2024, 15:00/);
    const { request } = (await t.bot.release.get(ref.requestId))!;
    assert.equal(request.createdAt, '2024-02-19T14:00:00.000Z');
    assert.equal(
      request.expiresAt,
      '2024-02-19T18:00:00.000Z',
      'REQUEST_TTL as given (the demo scales it by SIM_SPEED)',
    );
  });

  test('the demo scales REQUEST_TTL by the simulator speed: four real hours at any speed', () => {
    const fourHours = 4 * 3_600_000;
    assert.equal(requestTtlOnSimClock(fourHours, 60), 240 * 3_600_000);
    assert.equal(requestTtlOnSimClock(fourHours, 1), fourHours);
    assert.equal(requestTtlOnSimClock(fourHours, 0), fourHours, 'a frozen clock: as given');
  });
});
