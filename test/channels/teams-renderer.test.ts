/**
 * The Teams card through Microsoft's own Adaptive Cards renderer library (`adaptivecards`, the
 * JavaScript SDK Microsoft publishes for HTML hosts): it parses every card we send, with and
 * without the status page and workbook buttons, with no parse warning and no validation
 * failure. A deliberately broken card is reported, so the check can fail.
 *
 * The SDK's parse and validation need no DOM; rendering to HTML would, and what Teams itself
 * draws only Teams can show.
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { buildPayload } from '../../src/alerting/channels/teams/payload.js';
import type { AlertEvent } from '../../src/alerting/event.js';
import { alertLinks } from '../../src/alerting/links.js';
import { testAlertEvent } from '../../src/alerting/test-alert.js';

interface Card {
  parse(json: unknown, context: unknown): void;
  validateProperties(): { validationEvents: { message: string }[] };
  getActionCount(): number;
}
interface AdaptiveCardsSdk {
  AdaptiveCard: new () => Card;
  SerializationContext: new () => { eventCount: number; getEventAt(i: number): { message: string } };
}
const AC = createRequire(import.meta.url)('adaptivecards/dist/adaptivecards.js') as AdaptiveCardsSdk;

function problemsOf(content: unknown): { problems: string[]; actions: number } {
  const card = new AC.AdaptiveCard();
  const context = new AC.SerializationContext();
  card.parse(content, context);
  const problems: string[] = [];
  for (let i = 0; i < context.eventCount; i++) problems.push(`parse: ${context.getEventAt(i).message}`);
  for (const failure of card.validateProperties().validationEvents) problems.push(`validation: ${failure.message}`);
  return { problems, actions: card.getActionCount() };
}

const down: AlertEvent = {
  id: 'relay:connect01:https://sb.example.servicebus.windows.net/|triggered|2025-03-04T01:08:00.000Z',
  kind: 'triggered',
  checkId: 'relay:connect01:https://sb.example.servicebus.windows.net/',
  checkKind: 'relay-probe',
  target: 'https://sb.example.servicebus.windows.net/',
  location: 'connect01',
  state: 'down',
  since: '2025-03-04T01:08:00.000Z',
  at: '2025-03-04T02:13:30.000Z',
  failure: { code: 'connect_timeout', phase: 'tcp', message: 'no TCP connection within 5000 ms' },
  remediation: { summary: 'Allow outbound TCP 443 to *.servicebus.windows.net', steps: ['Check the firewall.', 'Allow the name, not IP ranges.'] },
};
const targets = {
  base: 'https://wbmon.contoso.com/monitor',
  workbook: 'https://portal.azure.com/#@contoso.onmicrosoft.com/resource/subscriptions/s/resourceGroups/rg/providers/Microsoft.Insights/workbooks/5f0a/workbook',
};

describe("the Teams card in Microsoft's Adaptive Cards SDK", () => {
  const events: AlertEvent[] = [down, { ...down, kind: 'resolved', state: 'up', failure: undefined } as AlertEvent, testAlertEvent(new Date('2026-03-01T10:00:00Z'))];
  for (const event of events) {
    it(`parses the ${event.kind} card with no warning, without and with its buttons`, () => {
      expect(problemsOf(buildPayload(event, {}).attachments[0]!.content)).toEqual({ problems: [], actions: 0 });
      const linked = problemsOf(buildPayload(event, alertLinks(event, targets)).attachments[0]!.content);
      expect(linked.problems).toEqual([]);
      expect(linked.actions).toBe(2);
    });
  }

  it('reports a broken card (the check can fail)', () => {
    const { problems } = problemsOf({ type: 'AdaptiveCard', version: '1.5', body: [{ type: 'Marquee' }], actions: [{ type: 'Action.OpenUrl', title: 'x' }] });
    expect(problems.length).toBeGreaterThan(0);
  });
});
