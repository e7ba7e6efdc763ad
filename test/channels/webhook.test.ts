import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { webhookChannel } from '../../src/alerting/channels/webhook/index.js';
import { buildPayload } from '../../src/alerting/channels/webhook/payload.js';
import { alertJsonSchema, alertPayloadSchema } from '../../src/alerting/channels/webhook/schema.js';
import type { AlertEvent } from '../../src/alerting/event.js';
import { alertLinks } from '../../src/alerting/links.js';
import { configuredChannels } from '../../src/alerting/channels/registry.js';
import { parseSettings } from '../../src/config/settings.js';
import { HOSTILE_EVENT, UNSAFE_IN_JSON } from '../support/hostile-text.js';

const event: AlertEvent = {
  id: 'heartbeat:connect01|triggered|2026-03-01T10:00:00.000Z',
  kind: 'triggered',
  checkId: 'heartbeat:connect01',
  checkKind: 'heartbeat',
  target: 'connect01',
  location: 'connect01',
  state: 'down',
  since: '2026-03-01T10:00:00.000Z',
  at: '2026-03-01T10:02:00.000Z',
  failure: { code: 'heartbeat_missing', phase: 'heartbeat', message: 'no heartbeat from relay connect01 for 481 s' },
  remediation: { summary: 'Check the relay host', steps: ['Is the relay task running?'] },
};

describe('webhook channel', () => {
  it('carries firstFailureAt as an optional field: present when the event has it, valid, and absent otherwise', () => {
    const payload = buildPayload({ ...event, firstFailureAt: '2026-03-01T09:55:00.000Z' });
    expect(payload.firstFailureAt).toBe('2026-03-01T09:55:00.000Z');
    expect(payload.since).toBe('2026-03-01T10:00:00.000Z');
    expect(alertPayloadSchema.safeParse(payload).success).toBe(true);
    expect(alertPayloadSchema.safeParse({ ...payload, firstFailureAt: 'yesterday' }).success).toBe(false);
    expect(buildPayload(event)).not.toHaveProperty('firstFailureAt');
    const published = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'schemas', 'alert.v1.schema.json'), 'utf8'));
    expect(published.properties.firstFailureAt).toMatchObject({ type: 'string', format: 'date-time' });
    expect(published.required).not.toContain('firstFailureAt');
  });

  it('keeps control, bidi and zero-width characters out of every text of the payload', () => {
    const payload = buildPayload(HOSTILE_EVENT);
    expect(JSON.stringify(payload)).not.toMatch(UNSAFE_IN_JSON);
    expect(payload.failure?.message).toBe('no answer 2026-12-01T00:00:00Z alert resolved: everything is fine ');
    expect(payload.checkId).toBe('relay:connect01:https://sb.example/ 2026-12-01T00:00:00Z alert resolved: everything is fine ');
    expect(alertPayloadSchema.safeParse(payload).success).toBe(true);
  });

  it('builds the documented payload: the event itself, versioned, valid against the published schema', () => {
    const payload = buildPayload(event);
    expect(payload).toEqual({ version: 1, ...event });
    expect(alertPayloadSchema.safeParse(payload).success).toBe(true);
    const published = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'schemas', 'alert.v1.schema.json'), 'utf8'));
    expect(published).toEqual(alertJsonSchema());
  });

  it("adds links to the check's section of the status page and to the workbook, valid against the published schema, and leaves them out when unknown", () => {
    const workbook = 'https://portal.azure.com/#@contoso.onmicrosoft.com/resource/subscriptions/s/resourceGroups/rg/providers/Microsoft.Insights/workbooks/5f0a/workbook';
    const withSlash: AlertEvent = { ...event, checkId: 'relay:connect01:https://sb.example/' };
    const payload = buildPayload(withSlash, alertLinks(withSlash, { base: 'https://wbmon.contoso.com', workbook }));
    expect(payload).toEqual({
      version: 1,
      ...withSlash,
      links: { dashboard: 'https://wbmon.contoso.com/api/dashboard#check-relay%3Aconnect01%3Ahttps%3A%2F%2Fsb.example%2F', workbook },
    });
    expect(alertPayloadSchema.safeParse(payload).success).toBe(true);
    expect(alertPayloadSchema.safeParse({ ...payload, links: { dashboard: 'javascript:alert(1)' } }).success).toBe(false);
    expect(buildPayload(event, alertLinks(event, {}))).not.toHaveProperty('links');
    expect(buildPayload(event, alertLinks(event, { base: 'http://127.0.0.1:7071' })).links).toEqual({ dashboard: 'http://127.0.0.1:7071/api/dashboard#check-heartbeat%3Aconnect01' });
    const published = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'schemas', 'alert.v1.schema.json'), 'utf8'));
    expect(published.properties.links.properties.dashboard).toMatchObject({ type: 'string', format: 'uri' });
    expect(published.required).not.toContain('links');
  });

  it('sends the links known at the moment of sending, and never its own URL or secret in them', async () => {
    const bodies: string[] = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d));
      req.on('end', () => {
        bodies.push(body);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/wbmon-9f8e7d?token=hook-url-secret`;
    try {
      await webhookChannel(url, { secret: 'hook-signing-secret', links: () => ({ base: 'https://wbmon.contoso.com' }) }).send(event);
    } finally {
      server.close();
    }
    const sent = JSON.parse(bodies[0]!);
    expect(sent.links).toEqual({ dashboard: 'https://wbmon.contoso.com/api/dashboard#check-heartbeat%3Aconnect01' });
    expect(bodies[0]).not.toMatch(/hook-url-secret|wbmon-9f8e7d|hook-signing-secret|127\.0\.0\.1/);
  });

  it('links to https://<WEBSITE_HOSTNAME> when built from the settings as the Functions runtime builds it, and to WBMON_PUBLIC_URL over it', async () => {
    const bodies: string[] = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d));
      req.on('end', () => {
        bodies.push(body);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    const workbook = 'https://portal.azure.com/#@t/resource/subscriptions/s/resourceGroups/rg/providers/Microsoft.Insights/workbooks/5f0a/workbook';
    try {
      const azure = { WBMON_WEBHOOK_URL: url, WEBSITE_HOSTNAME: 'func-wbmon-abc.azurewebsites.net', WBMON_WORKBOOK_URL: workbook };
      await configuredChannels(parseSettings(azure).alerting).get('webhook')!.send(event);
      await configuredChannels(parseSettings({ ...azure, WBMON_PUBLIC_URL: 'https://wbmon.contoso.com' }).alerting).get('webhook')!.send(event);
    } finally {
      server.close();
    }
    expect(bodies.map((b) => JSON.parse(b).links)).toEqual([
      { dashboard: 'https://func-wbmon-abc.azurewebsites.net/api/dashboard#check-heartbeat%3Aconnect01', workbook },
      { dashboard: 'https://wbmon.contoso.com/api/dashboard#check-heartbeat%3Aconnect01', workbook },
    ]);
  });

  it('signs the body with X-Wbmon-Timestamp and X-Wbmon-Signature when a secret is set', async () => {
    const received: { headers: IncomingHttpHeaders; body: string }[] = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d));
      req.on('end', () => {
        received.push({ headers: req.headers, body });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const now = () => new Date('2026-03-01T10:02:00Z');
    await webhookChannel(url, { secret: 'hook-secret', now }).send(event);
    await webhookChannel(url).send(event);
    server.close();

    const [signed, unsigned] = received;
    expect(signed!.headers['x-wbmon-timestamp']).toBe('1772359320');
    const expected = createHmac('sha256', 'hook-secret').update(`1772359320.${signed!.body}`).digest('hex');
    expect(signed!.headers['x-wbmon-signature']).toBe(`sha256=${expected}`);
    expect(JSON.parse(signed!.body)).toEqual({ version: 1, ...event });
    expect(unsigned!.headers['x-wbmon-signature']).toBeUndefined();
  });
});
