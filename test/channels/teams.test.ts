import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeliveryError } from '../../src/alerting/channels/channel.js';
import { teamsChannel } from '../../src/alerting/channels/teams/index.js';
import { buildPayload, type TeamsMessage, type TextBlock } from '../../src/alerting/channels/teams/payload.js';
import { durationBetween } from '../../src/alerting/words.js';
import type { AlertEvent } from '../../src/alerting/event.js';
import { alertLinks } from '../../src/alerting/links.js';
import { testAlertEvent } from '../../src/alerting/test-alert.js';
import { HOSTILE_EVENT, UNSAFE_IN_JSON } from '../support/hostile-text.js';

const relayDown: AlertEvent = {
  id: 'relay:connect01:ssprdedicatedsbprodscu.servicebus.windows.net|triggered|2025-03-04T01:08:00.000Z',
  kind: 'triggered',
  checkId: 'relay:connect01:ssprdedicatedsbprodscu.servicebus.windows.net',
  checkKind: 'relay-probe',
  target: 'ssprdedicatedsbprodscu.servicebus.windows.net',
  location: 'connect01',
  state: 'down',
  since: '2025-03-04T01:08:00.000Z',
  at: '2025-03-04T02:13:30.000Z',
  failure: { code: 'connect_timeout', phase: 'tcp', message: 'no TCP connection to 20.38.102.1:443 within 5000 ms' },
  remediation: {
    summary: 'Allow outbound TCP 443 from the relay host to *.servicebus.windows.net',
    steps: [
      'Check the firewall and proxy rules for outbound 443 from the Connect server.',
      'Allow the name *.servicebus.windows.net, not only IP ranges: relay addresses change.',
      'Run `writeback-monitor relay probe` on the Connect server to confirm.',
    ],
  },
};

const cloudResolved: AlertEvent = {
  id: 'cloud:https://passwordreset.microsoftonline.com/|resolved|2025-03-04T03:00:00.000Z',
  kind: 'resolved',
  checkId: 'cloud:https://passwordreset.microsoftonline.com/',
  checkKind: 'probe',
  target: 'https://passwordreset.microsoftonline.com/',
  location: 'westeurope',
  state: 'up',
  since: '2025-03-04T03:00:00.000Z',
  at: '2025-03-04T03:02:10.000Z',
  remediation: { summary: 'Nothing to do: the password reset service answers again.', steps: [] },
};

const reminder: AlertEvent = { ...relayDown, id: `${relayDown.checkId}|reminder|1`, kind: 'reminder', at: '2025-03-04T05:08:00.000Z' };
const flapping: AlertEvent = { ...relayDown, id: `${relayDown.checkId}|flapping|1`, kind: 'flapping' };
const huge: AlertEvent = {
  ...relayDown,
  id: 'huge',
  target: 'h'.repeat(50_000),
  failure: { code: 'x'.repeat(10_000), phase: 'tls', message: `certificate ${'*_[`'.repeat(60_000)}` },
  remediation: { summary: 'S'.repeat(20_000), steps: Array.from({ length: 200 }, (_, i) => `step ${i} ${'#'.repeat(5_000)}`) },
};
/** Every character escaped and then doubled again by JSON, plus 4-byte characters: the first size tried does not fit. */
const hugeEscapes: AlertEvent = {
  ...relayDown,
  id: 'huge-escapes',
  target: '\\😀'.repeat(20_000),
  failure: { code: '\\'.repeat(10_000), phase: '😀'.repeat(10_000), message: '\\'.repeat(100_000) },
  remediation: { summary: '\\'.repeat(20_000), steps: Array.from({ length: 100 }, () => '\\'.repeat(5_000)) },
};

/** A base behind a reverse proxy, and the workbook's portal link as infra/ builds it. */
const BASE = 'https://wbmon.contoso.com/monitor';
const WORKBOOK = 'https://portal.azure.com/#@contoso.onmicrosoft.com/resource/subscriptions/s/resourceGroups/rg/providers/Microsoft.Insights/workbooks/5f0a/workbook';
/** relayDown's check id, `:` and `/` percent-encoded in the fragment. */
const RELAY_DOWN_LINK = `${BASE}/api/dashboard#check-relay%3Aconnect01%3Assprdedicatedsbprodscu.servicebus.windows.net`;
const linked = (event: AlertEvent) => buildPayload(event, alertLinks(event, { base: BASE, workbook: WORKBOOK }));

function card(message: TeamsMessage) {
  return message.attachments[0].content;
}

function texts(message: TeamsMessage): string[] {
  return card(message).body.flatMap((e) => (e.type === 'TextBlock' ? [e.text] : e.facts.flatMap((f) => [f.title, f.value])));
}

function fact(message: TeamsMessage, title: string): string | undefined {
  return card(message)
    .body.flatMap((e) => (e.type === 'FactSet' ? e.facts : []))
    .find((f) => f.title === title)?.value;
}

describe('the Teams card', () => {
  it('shows the first failure of the streak as a fact right after Since, and no such fact without one', () => {
    const message = buildPayload({ ...relayDown, firstFailureAt: '2025-03-04T00:58:00.000Z' });
    const facts = card(message).body.flatMap((e) => (e.type === 'FactSet' ? e.facts : []));
    const since = facts.findIndex((f) => f.title === 'Since');
    expect(facts.slice(since, since + 2)).toEqual([
      { title: 'Since', value: '2025-03-04 01:08 UTC' },
      { title: 'First failure', value: '2025-03-04 00:58 UTC' },
    ]);
    expect(fact(buildPayload(relayDown), 'First failure')).toBeUndefined();
  });

  it('shows a triggered relay probe as DOWN in red, with where, what failed, for how long and the numbered steps to fix it', () => {
    expect(buildPayload(relayDown)).toEqual({
      type: 'message',
      attachments: [
        {
          contentType: 'application/vnd.microsoft.card.adaptive',
          content: {
            type: 'AdaptiveCard',
            $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
            version: '1.5',
            body: [
              {
                type: 'TextBlock',
                text: 'DOWN: relay connect01 cannot reach ssprdedicatedsbprodscu.servicebus.windows.net',
                wrap: true,
                size: 'large',
                weight: 'bolder',
                color: 'attention',
                style: 'heading',
              },
              {
                type: 'FactSet',
                facts: [
                  { title: 'Check', value: 'relay:connect01:ssprdedicatedsbprodscu.servicebus.windows.net' },
                  { title: 'Target', value: 'ssprdedicatedsbprodscu.servicebus.windows.net' },
                  { title: 'Location', value: 'relay connect01' },
                  { title: 'State', value: 'down' },
                  { title: 'Failing phase', value: 'tcp' },
                  { title: 'Error', value: 'connect\\_timeout: no TCP connection to 20.38.102.1:443 within 5000 ms' },
                  { title: 'Since', value: '2025-03-04 01:08 UTC' },
                  { title: 'Down for', value: '1 h 5 min' },
                ],
              },
              { type: 'TextBlock', text: 'What to fix', wrap: true, size: 'medium', weight: 'bolder', separator: true, spacing: 'medium' },
              { type: 'TextBlock', text: 'Allow outbound TCP 443 from the relay host to \\*.servicebus.windows.net', wrap: true, weight: 'bolder' },
              {
                type: 'TextBlock',
                text: '1. Check the firewall and proxy rules for outbound 443 from the Connect server.',
                wrap: true,
                spacing: 'small',
              },
              {
                type: 'TextBlock',
                text: '2. Allow the name \\*.servicebus.windows.net, not only IP ranges: relay addresses change.',
                wrap: true,
                spacing: 'small',
              },
              {
                type: 'TextBlock',
                text: '3. Run \\`writeback-monitor relay probe\\` on the Connect server to confirm.',
                wrap: true,
                spacing: 'small',
              },
            ],
          },
        },
      ],
    });
  });

  it('shows a resolved cloud probe in green, from its Azure region, without any failure facts', () => {
    expect(buildPayload(cloudResolved)).toEqual({
      type: 'message',
      attachments: [
        {
          contentType: 'application/vnd.microsoft.card.adaptive',
          content: {
            type: 'AdaptiveCard',
            $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
            version: '1.5',
            body: [
              {
                type: 'TextBlock',
                text: 'RESOLVED: Azure westeurope reaches https://passwordreset.microsoftonline.com/ again',
                wrap: true,
                size: 'large',
                weight: 'bolder',
                color: 'good',
                style: 'heading',
              },
              {
                type: 'FactSet',
                facts: [
                  { title: 'Check', value: 'cloud:https://passwordreset.microsoftonline.com/' },
                  { title: 'Target', value: 'https://passwordreset.microsoftonline.com/' },
                  { title: 'Location', value: 'Azure westeurope' },
                  { title: 'State', value: 'up' },
                  { title: 'Since', value: '2025-03-04 03:00 UTC' },
                  { title: 'Up for', value: '2 min' },
                ],
              },
              { type: 'TextBlock', text: 'What to fix', wrap: true, size: 'medium', weight: 'bolder', separator: true, spacing: 'medium' },
              { type: 'TextBlock', text: 'Nothing to do: the password reset service answers again.', wrap: true, weight: 'bolder' },
            ],
          },
        },
      ],
    });
  });

  it('titles a reminder with how long it has been down and flapping as on and off, both in red', () => {
    const [reminderTitle] = card(buildPayload(reminder)).body as [TextBlock];
    const [flappingTitle] = card(buildPayload(flapping)).body as [TextBlock];
    expect(reminderTitle.text).toBe('REMINDER: still down after 4 h: relay connect01 cannot reach ssprdedicatedsbprodscu.servicebus.windows.net');
    expect(reminderTitle.color).toBe('attention');
    expect(flappingTitle.text).toBe('FLAPPING: relay connect01 cannot reach ssprdedicatedsbprodscu.servicebus.windows.net, on and off');
    expect(flappingTitle.color).toBe('attention');
  });

  it('says where a check looks from: an Azure region for cloud probes, a relay for relay checks, the tenant as such', () => {
    expect(fact(buildPayload({ ...cloudResolved, location: 'swedencentral' }), 'Location')).toBe('Azure swedencentral');
    expect(fact(buildPayload({ ...relayDown, checkKind: 'heartbeat', target: 'connect01' }), 'Location')).toBe('relay connect01');
    expect(fact(buildPayload({ ...relayDown, checkKind: 'dc', target: 'dc01.corp.example' }), 'Location')).toBe('relay connect01');
    expect(fact(buildPayload({ ...relayDown, location: 'tenant' }), 'Location')).toBe('tenant');
    const [heartbeatTitle] = card(buildPayload({ ...relayDown, checkKind: 'heartbeat', target: 'connect01' })).body as [TextBlock];
    expect(heartbeatTitle.text).toBe('DOWN: relay connect01 stopped sending heartbeats');
  });

  it('words a missing Graph permission as the monitor misconfigured, not as the tenant down', () => {
    const permission: AlertEvent = {
      ...relayDown,
      checkId: 'tenant:licence',
      checkKind: 'tenant',
      target: 'https://graph.microsoft.com/v1.0/subscribedSkus',
      location: 'tenant',
      failure: { code: 'graph_permission', phase: 'graph', message: 'grant the application permission Organization.Read.All' },
    };
    const [title] = card(buildPayload(permission)).body as [TextBlock];
    expect(title.text).toBe('MISCONFIGURED: the monitor may not read https://graph.microsoft.com/v1.0/subscribedSkus (a Microsoft Graph permission is missing)');
    const [resolved] = card(buildPayload({ ...permission, kind: 'resolved', state: 'up' })).body as [TextBlock];
    expect(resolved.text).toBe('RESOLVED: the monitor reads https://graph.microsoft.com/v1.0/subscribedSkus again');
    const [stale] = card(buildPayload({ ...permission, failure: { code: 'sync_stale', phase: 'graph', message: 'x' } })).body as [TextBlock];
    expect(stale.text).toBe('DOWN: tenant check failing: https://graph.microsoft.com/v1.0/subscribedSkus');
  });

  it('writes durations the way people say them', () => {
    expect(durationBetween('2025-03-04T01:00:00Z', '2025-03-04T01:00:45Z')).toBe('45 s');
    expect(durationBetween('2025-03-04T01:00:00Z', '2025-03-04T01:12:59Z')).toBe('12 min');
    expect(durationBetween('2025-03-04T01:00:00Z', '2025-03-04T02:05:00Z')).toBe('1 h 5 min');
    expect(durationBetween('2025-03-04T01:00:00Z', '2025-03-04T03:00:00Z')).toBe('2 h');
    expect(durationBetween('2025-03-04T01:00:00Z', '2025-03-06T04:30:00Z')).toBe('2 d 3 h');
    expect(durationBetween('not a time', '2025-03-04T01:00:00Z')).toBeUndefined();
  });

  it('leaves out the duration when a time is unreadable, and shows the raw since text escaped', () => {
    const message = buildPayload({ ...relayDown, since: 'yesterday_night' });
    expect(fact(message, 'Since')).toBe('yesterday\\_night');
    expect(fact(message, 'Down for')).toBeUndefined();
  });

  it('keeps control, bidi and zero-width characters out of the title and every value of the card', () => {
    const message = buildPayload(HOSTILE_EVENT);
    expect((message.attachments[0].content.body[0] as TextBlock).text).toBe(
      'DOWN: relay connect01 cannot reach https://sb.example/ 2026-12-01T00:00:00Z alert resolved: everything is fine',
    );
    expect(JSON.stringify(message)).not.toMatch(UNSAFE_IN_JSON);
  });

  it('escapes Markdown in every value that comes from the event, so a message cannot format or link the card', () => {
    const message = buildPayload({
      ...relayDown,
      checkId: 'relay:connect_01:host',
      target: '# not a heading',
      location: 'connect_01',
      failure: { code: '1. first', phase: '- phase', message: '**bold** [click](https://evil.example) _it_ `code` ~x~ back\\slash\n# heading\n2. item' },
      remediation: { summary: '> quoted *summary*', steps: ['- not a bullet', '# not a heading', '3. not a number'] },
    });
    expect(fact(message, 'Check')).toBe('relay:connect\\_01:host');
    expect(fact(message, 'Target')).toBe('\\# not a heading');
    expect(fact(message, 'Location')).toBe('relay connect\\_01');
    expect(fact(message, 'Failing phase')).toBe('\\- phase');
    expect(fact(message, 'Error')).toBe(
      '1\\. first: \\*\\*bold\\*\\* \\[click\\](https://evil.example) \\_it\\_ \\`code\\` \\~x\\~ back\\\\slash # heading 2. item',
    );
    expect(texts(message)).toEqual(
      expect.arrayContaining([
        'DOWN: relay connect\\_01 cannot reach # not a heading',
        '\\> quoted \\*summary\\*',
        '1. \\- not a bullet',
        '2. \\# not a heading',
        '3. 3\\. not a number',
      ]),
    );
    // Nothing from the event survives unescaped: every Markdown character is preceded by a backslash.
    for (const text of texts(message)) expect(text).not.toMatch(/(^|[^\\])(\\\\)*[*_[\]`~]/);
  });

  it('stays under 28 KB however long the event values are, and marks what it cut', () => {
    const message = buildPayload(huge);
    expect(JSON.stringify(message).length).toBeLessThan(28 * 1024);
    expect(Buffer.byteLength(JSON.stringify(message))).toBeLessThan(28 * 1024);
    expect(fact(message, 'Error')).toMatch(/^x+…: certificate (\\[*_[`])+.*…$/);
    expect(fact(message, 'Target')).toMatch(/^h+…$/);
    const [title] = card(message).body as [TextBlock];
    expect(title.text).toMatch(/^DOWN: relay connect01 cannot reach h+…$/);
    expect(texts(message)).toContainEqual(expect.stringMatching(/^\(\d+ more steps not shown\)$/));
  });

  it('shrinks every value further when escaping and multi-byte characters would still make it too large', () => {
    const message = buildPayload(hugeEscapes);
    expect(Buffer.byteLength(JSON.stringify(message))).toBeLessThan(28 * 1024);
    expect(fact(message, 'Error')).toMatch(/^(\\\\)+…: (\\\\)+…$/);
    expect(fact(message, 'Failing phase')).toMatch(/^(😀)+…$/);
    const [title] = card(message).body as [TextBlock];
    expect(title.text).toMatch(/^DOWN: relay connect01 cannot reach (\\\\😀)+/);
    expect(card(message).body.length).toBeLessThan(card(buildPayload(huge)).body.length); // fewer steps shown, too
  });

  it('keeps an ordinary card whole, far below the bound', () => {
    expect(JSON.stringify(buildPayload(relayDown)).length).toBeLessThan(4 * 1024);
  });
});

describe("the Teams card's buttons", () => {
  it("open the check's section of the status page and the workbook, one Action.OpenUrl each, after the body", () => {
    const content = card(linked(relayDown));
    expect(content.actions).toEqual([
      { type: 'Action.OpenUrl', title: 'Open status page', url: RELAY_DOWN_LINK },
      { type: 'Action.OpenUrl', title: 'Open workbook', url: WORKBOOK },
    ]);
    expect(content.body).toEqual(card(buildPayload(relayDown)).body);
  });

  it("percent-encode a check id's : and / in the fragment", () => {
    expect(card(linked(cloudResolved)).actions?.[0]?.url).toBe(
      `${BASE}/api/dashboard#check-cloud%3Ahttps%3A%2F%2Fpasswordreset.microsoftonline.com%2F`,
    );
  });

  it('are only those there is an address for: no workbook outside Azure, and no actions at all when no base is known', () => {
    expect(card(buildPayload(relayDown, alertLinks(relayDown, { base: 'http://127.0.0.1:7071' }))).actions).toEqual([
      { type: 'Action.OpenUrl', title: 'Open status page', url: 'http://127.0.0.1:7071/api/dashboard#check-relay%3Aconnect01%3Assprdedicatedsbprodscu.servicebus.windows.net' },
    ]);
    expect(card(buildPayload(relayDown, alertLinks(relayDown, {})))).not.toHaveProperty('actions');
    expect(card(buildPayload(relayDown))).not.toHaveProperty('actions');
  });

  it('open the status page itself, without an anchor, from a test alert', () => {
    const event = testAlertEvent(new Date('2026-03-01T10:00:00Z'));
    expect(card(linked(event)).actions?.[0]).toEqual({ type: 'Action.OpenUrl', title: 'Open status page', url: `${BASE}/api/dashboard` });
  });

  it('stay on a card shrunk to fit under 28 KB', () => {
    for (const event of [huge, hugeEscapes]) {
      const message = linked(event);
      expect(Buffer.byteLength(JSON.stringify(message))).toBeLessThan(28 * 1024);
      expect(card(message).actions?.map((a) => a.title)).toEqual(['Open status page', 'Open workbook']);
    }
  });
});

describe('every built card against the published Adaptive Card 1.5 schema', () => {
  const schema: unknown = JSON.parse(
    readFileSync(join(import.meta.dirname, '..', 'fixtures', 'adaptive-card', 'adaptive-card-1.5-subset.schema.json'), 'utf8'),
  );
  // Only absolute URLs are accepted as uri-reference too: the card's links must open from anywhere.
  const ajv = new Ajv({ allErrors: true, strictTypes: false, formats: { uri: (s: string) => URL.canParse(s), 'uri-reference': (s: string) => URL.canParse(s) } });
  const validate = ajv.compile(schema as object);
  const show = (errors: ErrorObject[] | null | undefined) => ajv.errorsText(errors, { separator: '\n' });

  it.each([
    ['triggered', relayDown],
    ['resolved', cloudResolved],
    ['reminder', reminder],
    ['flapping', flapping],
    ['huge', huge],
    ['huge escaped', hugeEscapes],
  ] as const)('finds the %s card valid, with and without its buttons', (_name, event) => {
    for (const message of [buildPayload(event), linked(event)]) {
      const valid = validate(card(message));
      expect(valid, show(validate.errors)).toBe(true);
    }
  });

  it('finds the test alert card with its button valid', () => {
    expect(validate(card(linked(testAlertEvent(new Date('2026-03-01T10:00:00Z'))))), show(validate.errors)).toBe(true);
  });

  it('would refuse a card with an element or a colour the schema does not know (the check is real)', () => {
    const content = card(buildPayload(relayDown));
    expect(validate({ ...content, body: [...content.body, { type: 'Marquee', text: 'x' }] })).toBe(false);
    expect(validate({ ...content, body: [{ type: 'TextBlock', text: 'x', color: 'red' }] })).toBe(false);
    expect(validate({ ...content, body: [{ type: 'FactSet', facts: [{ title: 'x' }] }] })).toBe(false);
    expect(validate({ ...content, actions: [{ type: 'Action.OpenUrl', title: 'x' }] })).toBe(false);
    expect(validate({ ...content, actions: [{ type: 'Action.OpenUrl', title: 'x', url: 'not a url' }] })).toBe(false);
    expect(validate({ ...content, actions: [{ type: 'Action.Submit', title: 'x' }] })).toBe(false);
    expect(validate({ ...content, actions: [{ type: 'Action.OpenUrl', title: 'x', url: BASE, style: 'loud' }] })).toBe(false);
  });
});

interface Received {
  readonly method: string | undefined;
  readonly path: string | undefined;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

type Answer = { readonly status: number; readonly headers?: Record<string, string> } | 'never';

describe('sending to Teams', () => {
  let answer: Answer = { status: 202 };
  const received: Received[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ method: req.method, path: req.url, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      if (answer === 'never') return;
      res.writeHead(answer.status, answer.headers ?? {});
      res.end();
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  let url = '';
  const secretPath = '/workflows/6f1c0d2e/triggers/manual/paths/invoke?api-version=2016-06-01&sig=s3cr3t-Signature';

  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${secretPath}`;
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  function answering(next: Answer): void {
    answer = next;
    received.length = 0;
  }

  async function failure(send: Promise<unknown>): Promise<DeliveryError> {
    const err: unknown = await send.then(
      () => new Error('the send resolved, a DeliveryError was expected'),
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DeliveryError);
    const delivery = err as DeliveryError;
    expect(delivery.message).not.toContain(url);
    expect(delivery.message).not.toContain('s3cr3t');
    expect(delivery.message).not.toContain('127.0.0.1');
    return delivery;
  }

  it('is named teams', () => {
    expect(teamsChannel('http://127.0.0.1:1/').name).toBe('teams');
  });

  it('resolves on 202 and the webhook received exactly the built card as JSON', async () => {
    answering({ status: 202 });
    await teamsChannel(url).send(relayDown);
    expect(received).toHaveLength(1);
    const [request] = received as [Received];
    expect(request.method).toBe('POST');
    expect(request.path).toBe(secretPath);
    expect(request.headers['content-type']).toBe('application/json');
    expect(request.body).toBe(JSON.stringify(buildPayload(relayDown)));
    expect(JSON.parse(request.body)).toEqual(buildPayload(relayDown));
  });

  it('sends the buttons the link targets give at the moment of sending, and never the webhook URL in them', async () => {
    answering({ status: 202 });
    let base: string | undefined;
    const channel = teamsChannel(url, { links: () => (base === undefined ? {} : { base, workbook: WORKBOOK }) });
    await channel.send(relayDown);
    base = BASE;
    await channel.send(relayDown);
    const [before, after] = received.map((r) => JSON.parse(r.body) as TeamsMessage);
    expect(card(before!)).not.toHaveProperty('actions');
    expect(card(after!).actions?.map((a) => a.url)).toEqual([RELAY_DOWN_LINK, WORKBOOK]);
    for (const r of received) {
      expect(r.body).not.toContain('s3cr3t');
      expect(r.body).not.toContain('/workflows/');
    }
  });

  it('resolves on 200', async () => {
    answering({ status: 200 });
    await expect(teamsChannel(url).send(cloudResolved)).resolves.toBe('HTTP 200');
    expect(received).toHaveLength(1);
  });

  it('rejects a 429 as worth retrying after the 7 s that Retry-After asks for', async () => {
    answering({ status: 429, headers: { 'retry-after': '7' } });
    const err = await failure(teamsChannel(url).send(relayDown));
    expect(err.permanent).toBe(false);
    expect(err.retryAfterMs).toBe(7000);
  });

  it('rejects a 500 as worth retrying', async () => {
    answering({ status: 500 });
    const err = await failure(teamsChannel(url).send(relayDown));
    expect(err.permanent).toBe(false);
    expect(err.message).toBe('teams: HTTP 500');
  });

  it('rejects a 400 as permanent: the same card would be refused again', async () => {
    answering({ status: 400 });
    const err = await failure(teamsChannel(url).send(relayDown));
    expect(err.permanent).toBe(true);
  });

  it('rejects a webhook that never answers, after the timeout, as worth retrying', async () => {
    answering('never');
    const started = Date.now();
    const err = await failure(teamsChannel(url, { timeoutMs: 200 }).send(relayDown));
    expect(err.permanent).toBe(false);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(received).toHaveLength(1);
  });
});
