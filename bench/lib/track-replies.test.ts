import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { LocalConnector } from '../../src/teams/local-connector.ts';
import { trackReplies } from './track-replies.ts';

// Replies are posted the way botbuilder posts them: to /v3/conversations/{id}/activities/{replyToId}.

let connector: LocalConnector;
before(async () => {
  connector = await new LocalConnector().start();
});
after(async () => {
  await connector.close();
});

async function reply(conversationId: string, replyToId: string, text: string): Promise<number> {
  const res = await fetch(
    `${connector.url}v3/conversations/${encodeURIComponent(conversationId)}/activities/${encodeURIComponent(replyToId)}`,
    {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'message', text, replyToId }),
    },
  );
  await res.text();
  return res.status;
}

describe('trackReplies', () => {
  test('resolves each waiter with the reply to its own activity, and keeps no captured calls', async () => {
    const tracker = trackReplies(connector);
    try {
      const first = tracker.expect('a:one', 'act-1');
      const second = tracker.expect('a:two', 'act-1');
      const before = performance.now();
      assert.equal(await reply('a:two', 'act-1', 'for two'), 200);
      assert.equal(await reply('a:one', 'act-1', 'for one'), 200);
      const [r1, r2] = await Promise.all([first, second]);
      assert.equal(r1.activity.text, 'for one');
      assert.equal(r2.activity.text, 'for two');
      assert.ok(r1.at >= before && r2.at >= before);
      assert.equal(tracker.unmatched, 0);
      assert.ok(connector.calls.length <= 1, 'captured calls are dropped as they come');
    } finally {
      tracker.dispose();
    }
  });

  test('counts a reply nobody waits for, and rejects a waiter whose reply does not come', async () => {
    const tracker = trackReplies(connector);
    try {
      await reply('a:three', 'act-9', 'unexpected');
      assert.equal(tracker.unmatched, 1);
      await assert.rejects(tracker.expect('a:three', 'act-10', 20), /no reply to act-10 in a:three within 20 ms/);
      // A late reply after the timeout is unmatched, not delivered to anyone.
      await reply('a:three', 'act-10', 'late');
      assert.equal(tracker.unmatched, 2);
    } finally {
      tracker.dispose();
    }
    assert.equal(connector.responder, null);
  });
});
