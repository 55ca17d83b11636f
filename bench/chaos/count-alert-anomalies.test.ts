import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { countAlertAnomalies } from './count-alert-anomalies.ts';

describe('countAlertAnomalies', () => {
  const alerts = [
    { id: 'a1', groupId: 'kr-olpe' },
    { id: 'a2', groupId: 'kr-soest' },
  ];
  const waves = [{ regionId: 'kr-olpe', conversationIds: ['sued'] }];

  test('each alert once in each subscribed conversation: nothing to report', () => {
    const posts = [
      { alertId: 'a1', conversationId: 'sued' },
      { alertId: 'a2', conversationId: 'nord' },
    ];
    assert.deepEqual(countAlertAnomalies({ posts, deliveries: posts, alerts, waves }), { twice: [], missing: [] });
  });

  test('a card posted twice into one conversation counts once as twice', () => {
    const posts = [
      { alertId: 'a1', conversationId: 'sued' },
      { alertId: 'a1', conversationId: 'sued' },
      { alertId: 'a1', conversationId: 'nord' },
    ];
    assert.deepEqual(countAlertAnomalies({ posts, deliveries: [], alerts, waves }).twice, [
      { alertId: 'a1', conversationId: 'sued', posts: 2 },
    ]);
  });

  test('a recorded delivery without a card, and a wave nobody was told about, are missing', () => {
    const result = countAlertAnomalies({
      posts: [{ alertId: 'a2', conversationId: 'nord' }],
      deliveries: [{ alertId: 'a2', conversationId: 'ops' }],
      alerts,
      waves,
    });
    assert.deepEqual(result.missing, [
      { alertId: 'a2', conversationId: 'ops' },
      { alertId: null, conversationId: 'sued', regionId: 'kr-olpe' },
    ]);
  });

  test('a wave is missing when the alert for it went to another conversation only', () => {
    const result = countAlertAnomalies({
      posts: [{ alertId: 'a1', conversationId: 'nord' }],
      deliveries: [],
      alerts,
      waves,
    });
    assert.deepEqual(result.missing, [{ alertId: null, conversationId: 'sued', regionId: 'kr-olpe' }]);
  });
});
