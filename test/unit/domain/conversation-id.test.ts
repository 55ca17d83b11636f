import assert from 'node:assert/strict';
import { test } from 'node:test';
import { proactiveConversationId, proactiveReference } from '../../../src/domain/conversation-id.ts';

test('proactiveConversationId: a channel thread becomes its channel; other conversation ids stay as they are', () => {
  const cases: Array<[string, string]> = [
    ['19:abc@thread.tacv2;messageid=1700000000001', '19:abc@thread.tacv2'],
    ['19:abc@thread.tacv2', '19:abc@thread.tacv2'],
    ['19:meeting_x@thread.v2', '19:meeting_x@thread.v2'],
    ['a:1personal-chat-id', 'a:1personal-chat-id'],
    // Only a trailing ";messageid=" is a thread; anything else with ";" is left alone.
    ['19:abc@thread.tacv2;other=1', '19:abc@thread.tacv2;other=1'],
    ['', ''],
  ];
  for (const [input, expected] of cases) assert.equal(proactiveConversationId(input), expected, input);
});

test('proactiveReference: aimed at the given conversation, replying to nothing, the rest kept', () => {
  const stored = {
    activityId: 'answered-message',
    bot: { id: '28:bot' },
    serviceUrl: 'https://smba.example/',
    conversation: { id: '19:abc@thread.tacv2;messageid=1', conversationType: 'channel', tenantId: 't' },
  };
  const aimed = proactiveReference(stored, '19:abc@thread.tacv2');
  assert.deepEqual(aimed, {
    bot: { id: '28:bot' },
    serviceUrl: 'https://smba.example/',
    conversation: { id: '19:abc@thread.tacv2', conversationType: 'channel', tenantId: 't' },
  });
  assert.equal(stored.conversation.id, '19:abc@thread.tacv2;messageid=1', 'the stored reference is not changed');
});
