import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromiumSkipReason } from './launch-chromium.ts';
import { type DemoInPlayground, openDemoInPlayground, simJson } from './open-demo-in-playground.ts';
import {
  actionOf,
  cardText,
  invokeCardAction,
  type PlaygroundPage,
  type PlaygroundUser,
  visibleText,
} from './playground-page.ts';
import type { RunningDemo } from './start-demo.ts';

// docs/decisions/browser-test.md: the demo (`npm start`: simulator, bot, Agents Playground) driven through the Playground's
// chat UI in Chromium, the way the staff use it. Olaf Operator is the Playground's one current user;
// Bernd Approver clicks through the Playground's invoke API (the UI has no user switch). Olaf's own
// card offers him no "Genehmigen"; the approvers' copy does, and his click there is refused.
// Screenshots: test-results/e2e/NN-step.png, with demo.log and playground.log of the run.

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const shotsDir = join(repoRoot, 'test-results', 'e2e');
const APPROVERS_CHANNEL = '19:freigaben@thread.tacv2';
// Monday afternoon: the Nordverband is fully patched in the feb-2024 scenario (docs/product.md).
const NORD_PATCHED_AT = Date.parse('2024-02-19T14:00:00Z');
const nf = new Intl.NumberFormat('de-DE');

type GatewayDomain = { domain: string; inbound: string; outbound: string };

async function nordverbandDomains(simUrl: string): Promise<GatewayDomain[]> {
  return (await simJson<{ items: GatewayDomain[] }>(`${simUrl}/gateway/v1/domains?verband=vb-nord`)).items;
}

const skip = chromiumSkipReason(process.env);

if (skip) {
  test('browser suite (Agents Playground in Chromium)', { skip }, () => {});
} else {
  describe('Agents Playground in Chromium against the running demo', { timeout: 110_000 }, () => {
    let opened: DemoInPlayground | undefined;
    let demo: RunningDemo;
    let ui: PlaygroundPage;
    let people: { current: PlaygroundUser; bernd: PlaygroundUser };
    const dataDir = mkdtempSync(join(tmpdir(), 'lagebot-e2e-'));

    before(
      async () => {
        rmSync(shotsDir, { recursive: true, force: true });
        opened = await openDemoInPlayground({ dataDir, shotsDir, at: NORD_PATCHED_AT });
        ({ demo, ui, people } = opened);
        assert.equal(people.current.name, 'Olaf Operator');
        await ui.screenshot('playground');
      },
      { timeout: 90_000 },
    );

    after(
      async () => {
        await opened?.close();
        // For a failed run (CI): what the demo and the Playground said, next to the screenshots.
        mkdirSync(shotsDir, { recursive: true });
        if (demo) writeFileSync(join(shotsDir, 'demo.log'), demo.output());
        if (existsSync(join(dataDir, 'playground.log'))) {
          copyFileSync(join(dataDir, 'playground.log'), join(shotsDir, 'playground.log'));
        }
        rmSync(dataDir, { recursive: true, force: true });
      },
      { timeout: 30_000 },
    );

    test('status Kreis Olpe: the status card with the inventory numbers', { timeout: 45_000 }, async () => {
      await ui.openConversation('Personal Chat');
      await ui.send('status Kreis Olpe');
      const card = ui.cards('Lage: Kreis Olpe').last();
      await card.waitFor({ timeout: 20_000 });
      const text = await visibleText(card);
      assert.match(text, /\d[\d.]* von \d[\d.]*/);
      // The numbers on screen are the inventory API's, not just any numbers.
      const compliance = await simJson<{
        region: { patches: Array<{ clients: { installed: number; total: number } }> };
      }>(`${demo.simUrl}/inventory/v1/compliance?region=kr-olpe`);
      for (const p of compliance.region.patches.filter((p) => p.clients.total > 0)) {
        assert.ok(
          text.includes(`${nf.format(p.clients.installed)} von ${nf.format(p.clients.total)}`),
          `the card shows ${p.clients.installed} von ${p.clients.total} clients:\n${text.slice(0, 800)}`,
        );
      }
      await ui.screenshot('status-kreis-olpe', card);
    });

    test('@Lagebot hilfe in the approvers channel Freigaben: the help card', { timeout: 45_000 }, async () => {
      // Speaking in "Freigaben" once also tells the bot the channel, so release requests go there.
      await ui.openConversation('Lage Südverband - Freigaben');
      // Opening the team makes the Playground install the bot there; Lagebot greets the team with a
      // card offering to subscribe (docs/decisions/spam-alerts.md). Wait for it, so its arrival does not cut into the typing.
      const greeting = ui.cards('Lagebot ist jetzt in diesem Team').last();
      await greeting.waitFor({ timeout: 15_000 });
      assert.match(await visibleText(greeting), /Alarme für Südverband/);
      await ui.postWithMention('Lagebot', 'hilfe');
      const card = ui.cards('Lagebot – was ich kann').last();
      await card.waitFor({ timeout: 20_000 });
      const help = await visibleText(card);
      assert.match(help, /status Kreis Olpe/);
      assert.match(help, /freigabe Nordverband eingehend/);
      await ui.screenshot('hilfe', card);
    });

    test('release for the Nordverband: Olaf asks, Bernd approves and confirms, the card ends in "ausgeführt", the gateway is open', {
      timeout: 60_000,
    }, async () => {
      const initial = await nordverbandDomains(demo.simUrl);
      assert.ok(initial.length > 0);
      assert.ok(
        initial.every((d) => d.inbound !== 'open'),
        'the scenario starts with inbound mail stopped in the Nordverband',
      );

      await ui.openConversation('Personal Chat');
      await ui.send('freigabe Nordverband eingehend Alle Clients gepatcht');

      // The copy in the approvers' channel: a new post, whose ids the UI's socket tells us.
      const posted = await ui.waitForStreamed(
        (m) =>
          m.action === 'createMessage' &&
          (m.postConversationId ?? '').startsWith(`${APPROVERS_CHANNEL};`) &&
          actionOf(m.card, 'request.approve') !== undefined,
        'request card in Freigaben',
      );
      const approve = actionOf(posted.card, 'request.approve')!;
      const requestId = String(approve.data?.requestId);

      // Olaf's own card: waiting for approval, and no approve button for the requester.
      const own = ui.cards(requestId).last();
      await own.getByText(/Wartet auf Genehmigung/).waitFor({ timeout: 20_000 });
      assert.equal(await own.getByRole('button', { name: 'Genehmigen' }).count(), 0);
      assert.equal(await own.getByRole('button', { name: 'Zurückziehen' }).count(), 1);
      const ownText = await visibleText(own);
      assert.match(ownText, new RegExp(`\\b${initial.length} Domänen`), 'the card counts every domain');
      for (const d of initial) assert.ok(ownText.includes(d.domain), `${d.domain} is visible on the card`);
      await ui.screenshot('request-waiting', own);

      // Olaf sees the copy in Freigaben too, with its "Genehmigen" button for the approvers. His click
      // is refused (he is an operator, not an approver, in the demo roles), and nothing changes.
      await ui.openConversation('Lage Südverband - Freigaben');
      const inChannel = ui.cards(requestId).last();
      await inChannel.getByRole('button', { name: 'Genehmigen' }).click();
      await inChannel.getByText('Dafür brauchen Sie die Rolle „Freigeber“.').waitFor({ timeout: 20_000 });
      assert.match(await visibleText(inChannel), /Wartet auf Genehmigung \(0 von 1\)/);
      await ui.screenshot('approve-refused-for-olaf', inChannel);
      assert.ok((await nordverbandDomains(demo.simUrl)).every((d) => d.inbound !== 'open'));

      const confirmView = await invokeCardAction(demo.playgroundUrl, {
        fromId: people.bernd.id,
        conversationId: posted.postConversationId!,
        replyToId: posted.messageId,
        action: approve,
      });
      assert.match(cardText(confirmView), /Bitte bestätigen/);
      const confirm = actionOf(confirmView, 'request.confirm');
      assert.ok(confirm, `the confirmation view offers "Bestätigen": ${cardText(confirmView)}`);
      const afterConfirm = await invokeCardAction(demo.playgroundUrl, {
        fromId: people.bernd.id,
        conversationId: posted.postConversationId!,
        replyToId: posted.messageId,
        action: confirm,
      });
      assert.match(cardText(afterConfirm), /Genehmigt von\nBernd Approver/);

      // The bot updates the card in place; Olaf sees it end in "ausgeführt".
      await ui.openConversation('Personal Chat');
      await own.getByText('ausgeführt', { exact: true }).waitFor({ timeout: 30_000 });
      assert.match(await visibleText(own), /Bernd Approver/);
      await ui.screenshot('request-executed', own);

      // ... and so does the approvers' channel.
      await ui.openConversation('Lage Südverband - Freigaben');
      await inChannel.getByText('ausgeführt', { exact: true }).waitFor({ timeout: 20_000 });
      await ui.screenshot('freigaben-executed', inChannel);

      const final = await nordverbandDomains(demo.simUrl);
      assert.deepEqual(
        final.map((d) => d.domain),
        initial.map((d) => d.domain),
      );
      for (const d of final) assert.equal(d.inbound, 'open', `${d.domain} inbound`);
      // Only the direction asked for changed.
      assert.deepEqual(
        final.map((d) => d.outbound),
        initial.map((d) => d.outbound),
      );
    });
  });
}
