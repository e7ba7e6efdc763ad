/**
 * The alerting pipeline end to end: checks in a store (Azurite), the policy, the outbox, and a
 * real webhook capture server on loopback that answers as scripted.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { webhookChannel } from '../src/alerting/channels/webhook/index.js';
import { evaluateAlerts } from '../src/alerting/evaluate-alerts.js';
import type { AlertEvent } from '../src/alerting/event.js';
import { ALERTS, deliver, deliveryKey, enqueue, type DeliveryRow } from '../src/alerting/outbox.js';
import type { CheckRecord } from '../src/checks/state.js';
import { parseSettings } from '../src/config/settings.js';
import { startAzurite, type RunningAzurite } from '../src/local/azurite.js';
import { CHECKS } from '../src/monitor/checks-repository.js';
import type { Store } from '../src/store/store.js';
import { TableStore } from '../src/store/table-store.js';

type Answer = (req: IncomingMessage, res: ServerResponse) => void;

interface Capture {
  url: string;
  bodies: unknown[];
  /** Answers to give, in order; the last one repeats. */
  answers: Answer[];
  close(): Promise<void>;
}

const reply = (status: number, headers: Record<string, string> = {}): Answer => (_req, res) => {
  res.writeHead(status, headers);
  res.end();
};

async function capture(answers: Answer[] = [reply(202)]): Promise<Capture> {
  const c: Capture = { url: '', bodies: [], answers, close: async () => undefined };
  let served = 0;
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d));
    req.on('end', () => {
      c.bodies.push(JSON.parse(body));
      const answer = c.answers[Math.min(served++, c.answers.length - 1)]!;
      answer(req, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  c.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook?sig=SECRET-SIG`;
  c.close = () =>
    new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  return c;
}

let azurite: RunningAzurite;
let tables = 0;
const NOW = new Date('2026-03-01T10:00:00Z');
const later = (ms: number): Date => new Date(NOW.getTime() + ms);

beforeAll(async () => {
  azurite = await startAzurite({});
});
afterAll(() => azurite.close());

async function freshStore(): Promise<Store> {
  const store = TableStore.fromConnectionString(azurite.connectionString, { tableName: `alerts${++tables}` });
  await store.ready();
  return store;
}

function event(id: string): AlertEvent {
  return {
    id,
    kind: 'triggered',
    checkId: 'relay:connect01:https://x.servicebus.windows.net/',
    checkKind: 'relay-probe',
    target: 'https://x.servicebus.windows.net/',
    location: 'connect01',
    state: 'down',
    since: NOW.toISOString(),
    at: NOW.toISOString(),
    failure: { code: 'tcp_timeout', phase: 'tcp', message: 'no answer' },
    remediation: { summary: 'Open outbound 443', steps: ['Allow *.servicebus.windows.net'] },
  };
}

async function row(store: Store, id: string): Promise<DeliveryRow> {
  return (await store.get<DeliveryRow>(ALERTS, deliveryKey(id, 'webhook')))!.value;
}

describe('outbox', () => {
  it('delivers once on 202, however many times the same event is enqueued', async () => {
    const store = await freshStore();
    const hook = await capture();
    const channels = new Map([['webhook', webhookChannel(hook.url)]]);
    expect(await enqueue(store, [event('e1')], ['webhook'], NOW)).toBe(1);
    expect(await enqueue(store, [event('e1')], ['webhook'], NOW)).toBe(0);
    expect(await deliver(store, channels, NOW)).toEqual({ sent: 1, retrying: 0, failed: 0 });
    expect(await deliver(store, channels, later(60_000))).toEqual({ sent: 0, retrying: 0, failed: 0 });
    expect(hook.bodies).toEqual([{ version: 1, ...event('e1') }]);
    expect(await row(store, 'e1')).toMatchObject({ status: 'sent', attempts: 1 });
    await hook.close();
  });

  it('retries a 429 no sooner than its Retry-After, a 500 with backoff, and stops at a permanent 400', async () => {
    const store = await freshStore();
    const hook = await capture([reply(429, { 'retry-after': '120' }), reply(500), reply(202)]);
    const channels = new Map([['webhook', webhookChannel(hook.url)]]);
    const log: string[] = [];
    await enqueue(store, [event('e2')], ['webhook'], NOW);
    expect(await deliver(store, channels, NOW, { log: (l) => log.push(l) })).toEqual({ sent: 0, retrying: 1, failed: 0 });
    expect(await row(store, 'e2')).toMatchObject({ status: 'pending', attempts: 1, lastError: 'webhook: HTTP 429', nextAttemptAt: later(120_000).toISOString() });
    expect(await deliver(store, channels, later(119_000))).toEqual({ sent: 0, retrying: 0, failed: 0 }); // not yet
    expect(await deliver(store, channels, later(120_000))).toEqual({ sent: 0, retrying: 1, failed: 0 }); // 500
    // Second failure: backoff doubles from 30 s to 60 s.
    expect(await row(store, 'e2')).toMatchObject({ attempts: 2, nextAttemptAt: later(180_000).toISOString() });
    expect(await deliver(store, channels, later(180_000))).toEqual({ sent: 1, retrying: 0, failed: 0 });
    expect(hook.bodies).toHaveLength(3);

    const refusing = await capture([reply(400)]);
    await enqueue(store, [event('e3')], ['webhook'], NOW);
    const bad = new Map([['webhook', webhookChannel(refusing.url)]]);
    const outcomes: string[] = [];
    expect(await deliver(store, bad, NOW, { log: (l) => log.push(l), onOutcome: (c, o) => outcomes.push(`${c} ${o}`) })).toEqual({ sent: 0, retrying: 0, failed: 1 });
    expect(outcomes).toEqual(['webhook failed']);
    expect(await deliver(store, bad, later(3_600_000))).toEqual({ sent: 0, retrying: 0, failed: 0 });
    expect(refusing.bodies).toHaveLength(1);
    expect(log.join('\n')).toContain('failed for good after 1 attempt(s): webhook: HTTP 400');
    expect(log.join('\n')).not.toContain('SECRET-SIG');
    await hook.close();
    await refusing.close();
  });

  it('treats a receiver slower than the timeout as a failure worth retrying', async () => {
    const store = await freshStore();
    const slow = await capture([() => undefined]); // never answers
    await enqueue(store, [event('e4')], ['webhook'], NOW);
    const report = await deliver(store, new Map([['webhook', webhookChannel(slow.url, { timeoutMs: 200 })]]), NOW);
    expect(report).toEqual({ sent: 0, retrying: 1, failed: 0 });
    await slow.close();
  });

  it('delivers exactly once after a crash between claim and send, when the claim lapses', async () => {
    const store = await freshStore();
    const hook = await capture();
    await enqueue(store, [event('e5')], ['webhook'], NOW);
    // The crash: a run claimed the row and died before sending.
    const entry = (await store.get<DeliveryRow>(ALERTS, deliveryKey('e5', 'webhook')))!;
    await store.replace(ALERTS, deliveryKey('e5', 'webhook'), { ...entry.value, status: 'sending', attempts: 1, claimedUntil: later(120_000).toISOString() }, entry.etag);
    const channels = new Map([['webhook', webhookChannel(hook.url)]]);
    expect(await deliver(store, channels, later(60_000))).toEqual({ sent: 0, retrying: 0, failed: 0 }); // still claimed
    expect(await deliver(store, channels, later(120_000))).toEqual({ sent: 1, retrying: 0, failed: 0 });
    expect(await deliver(store, channels, later(300_000))).toEqual({ sent: 0, retrying: 0, failed: 0 });
    expect(hook.bodies).toHaveLength(1);
    await hook.close();
  });
});

describe('alert evaluation', () => {
  function downCheck(): CheckRecord {
    return {
      id: 'cloud:https://passwordreset.microsoftonline.com/',
      kind: 'probe',
      target: 'https://passwordreset.microsoftonline.com/',
      location: 'westeurope',
      state: 'down',
      since: NOW.toISOString(),
      consecutiveFailures: 2,
      consecutiveSuccesses: 0,
      lastResult: { ok: false, startedAt: NOW.toISOString(), failure: { code: 'tcp_timeout', phase: 'tcp', message: 'no answer' } },
    };
  }

  it('sends one message when two evaluators race on one store', async () => {
    const store = await freshStore();
    const hook = await capture();
    await store.insert(CHECKS, downCheck().id, downCheck());
    const settings = parseSettings({ WBMON_WEBHOOK_URL: hook.url });
    const channels = new Map([['webhook', webhookChannel(hook.url)]]);
    const passes = await Promise.all([evaluateAlerts(settings, store, channels, NOW), evaluateAlerts(settings, store, channels, NOW)]);
    expect(passes.map((p) => p.events.length).sort()).toEqual([0, 1]);
    expect(hook.bodies).toHaveLength(1);
    expect(hook.bodies[0]).toMatchObject({ kind: 'triggered', checkId: downCheck().id, failure: { code: 'tcp_timeout' } });
    expect((hook.bodies[0] as AlertEvent).remediation.summary.length).toBeGreaterThan(0);
    // Nothing more to say a minute later.
    expect((await evaluateAlerts(settings, store, channels, later(60_000))).events).toEqual([]);
    expect(hook.bodies).toHaveLength(1);
    await hook.close();
  });
  it("passes the failure message to the remediation, so a 31034 about the remote certificate gets the root CAs", async () => {
    const store = await freshStore();
    const hook = await capture();
    const check: CheckRecord = {
      ...downCheck(),
      id: 'relay:connect01:eventlog',
      kind: 'eventlog',
      target: 'Application log, PasswordResetService',
      location: 'connect01',
      lastResult: {
        ok: false,
        startedAt: NOW.toISOString(),
        failure: { code: 'event_31034', phase: 'eventlog', message: 'PasswordResetService 31034 at 2026-12-01T00:00:00.000Z: The remote certificate is invalid according to the validation procedure.' },
      },
    };
    await store.insert(CHECKS, check.id, check);
    const settings = parseSettings({ WBMON_WEBHOOK_URL: hook.url });
    await evaluateAlerts(settings, store, new Map([['webhook', webhookChannel(hook.url)]]), NOW);
    expect(hook.bodies).toHaveLength(1);
    expect((hook.bodies[0] as AlertEvent).remediation.summary).toBe(
      'The Connect server does not trust the certificate of writeback\'s Service Bus listener (event 31034, "The remote certificate is invalid"): install the current Azure root CAs',
    );
    await hook.close();
  });
});
