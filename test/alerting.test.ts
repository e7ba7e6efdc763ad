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
import { ALERTS, deliver, deliveryKey, enqueue, type DeliveryClock, type DeliveryRow } from '../src/alerting/outbox.js';
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

/**
 * The outbox's clock, under the test's control: `sleep` moves time on at once (and records what
 * was asked), so a retry "1 s later within the same pass" takes no real second. Each request the
 * capture server receives is stamped with this clock's time.
 */
interface FakeClock extends DeliveryClock {
  readonly slept: number[];
  set(at: Date): void;
  /** Makes the next sleep end as a stopping process's does: cut short, false. */
  cutNextSleep(): void;
}

function fakeClock(start: Date): FakeClock {
  let t = start.getTime();
  let cut = false;
  const slept: number[] = [];
  return {
    slept,
    now: () => new Date(t),
    set: (at) => (t = at.getTime()),
    cutNextSleep: () => (cut = true),
    sleep: async (ms) => {
      slept.push(ms);
      if (cut) {
        cut = false;
        return false;
      }
      t += ms;
      return true;
    },
  };
}

/** A capture whose answers are stamped with the fake clock's time when each request arrived. */
async function timedCapture(clock: FakeClock, answers: Answer[]): Promise<Capture & { times: number[] }> {
  const times: number[] = [];
  const stamped = answers.map((answer): Answer => (req, res) => {
    times.push(clock.now().getTime() - NOW.getTime());
    answer(req, res);
  });
  const c = await capture(stamped);
  return Object.assign(c, { times });
}

describe('outbox', () => {
  it('delivers once on 202, however many times the same event is enqueued', async () => {
    const store = await freshStore();
    const hook = await capture();
    const channels = new Map([['webhook', webhookChannel(hook.url)]]);
    expect(await enqueue(store, [event('e1')], ['webhook'], NOW)).toBe(1);
    expect(await enqueue(store, [event('e1')], ['webhook'], NOW)).toBe(0);
    expect(await deliver(store, channels, NOW, { clock: fakeClock(NOW) })).toEqual({ sent: 1, retrying: 0, failed: 0 });
    expect(await deliver(store, channels, later(60_000), { clock: fakeClock(later(60_000)) })).toEqual({ sent: 0, retrying: 0, failed: 0 });
    expect(hook.bodies).toEqual([{ version: 1, ...event('e1') }]);
    expect(await row(store, 'e1')).toMatchObject({ status: 'sent', attempts: 1 });
    await hook.close();
  });

  it('retries a 429 with Retry-After: 1 one second later, within the same pass', async () => {
    const store = await freshStore();
    const clock = fakeClock(NOW);
    const hook = await timedCapture(clock, [reply(429, { 'retry-after': '1' }), reply(202)]);
    const log: string[] = [];
    await enqueue(store, [event('ra1')], ['webhook'], NOW);
    const report = await deliver(store, new Map([['webhook', webhookChannel(hook.url)]]), NOW, { clock, log: (l) => log.push(l) });
    expect(report).toEqual({ sent: 1, retrying: 0, failed: 0 });
    expect(clock.slept).toEqual([1000]);
    expect(hook.times).toEqual([0, 1000]);
    expect(await row(store, 'ra1')).toMatchObject({ status: 'sent', attempts: 2, lastError: 'webhook: HTTP 429', finishedAt: later(1000).toISOString() });
    expect(log).toEqual([`alert triggered ${event('ra1').checkId} via webhook: attempt 1 failed (webhook: HTTP 429); Retry-After 1 s, next in this pass ${later(1000).toISOString()}`]);
    await hook.close();
  });

  it('reads a Retry-After HTTP date against the receiver\'s own Date header', async () => {
    const store = await freshStore();
    const clock = fakeClock(NOW);
    // The receiver's clock is an hour and a half behind ours: only its own Date says how long it meant.
    const theirs = Date.parse('2026-03-01T08:30:00Z');
    const hook = await timedCapture(clock, [
      reply(503, { date: new Date(theirs).toUTCString(), 'retry-after': new Date(theirs + 4000).toUTCString() }),
      reply(202),
    ]);
    await enqueue(store, [event('ra2')], ['webhook'], NOW);
    expect(await deliver(store, new Map([['webhook', webhookChannel(hook.url)]]), NOW, { clock })).toEqual({ sent: 1, retrying: 0, failed: 0 });
    expect(clock.slept).toEqual([4000]);
    expect(hook.times).toEqual([0, 4000]);
    await hook.close();
  });

  it('waits at most the 10 minute cap when Retry-After asks for more, in a later pass', async () => {
    const store = await freshStore();
    const clock = fakeClock(NOW);
    const hook = await timedCapture(clock, [reply(429, { 'retry-after': '3600' }), reply(202)]);
    const channels = new Map([['webhook', webhookChannel(hook.url)]]);
    const log: string[] = [];
    await enqueue(store, [event('ra3')], ['webhook'], NOW);
    expect(await deliver(store, channels, NOW, { clock, log: (l) => log.push(l) })).toEqual({ sent: 0, retrying: 1, failed: 0, nextAttemptAt: later(600_000).toISOString() });
    expect(clock.slept).toEqual([]);
    expect(log[0]).toContain('the receiver asked for 1 h; waiting the 10 min cap');
    expect(await row(store, 'ra3')).toMatchObject({ status: 'pending', attempts: 1, nextAttemptAt: later(600_000).toISOString() });
    clock.set(later(599_999));
    expect(await deliver(store, channels, clock.now(), { clock })).toEqual({ sent: 0, retrying: 0, failed: 0, nextAttemptAt: later(600_000).toISOString() });
    clock.set(later(600_000));
    expect(await deliver(store, channels, clock.now(), { clock })).toEqual({ sent: 1, retrying: 0, failed: 0 });
    expect(hook.times).toEqual([0, 600_000]);
    await hook.close();
  });

  it('backs off 5, 10, 20 ... seconds to a 10 minute cap without Retry-After, and gives up 6 hours after the alert was recorded', async () => {
    const store = await freshStore();
    const clock = fakeClock(NOW);
    const hook = await timedCapture(clock, [reply(500)]);
    const channels = new Map([['webhook', webhookChannel(hook.url)]]);
    const log: string[] = [];
    const outcomes: string[] = [];
    await enqueue(store, [event('bo')], ['webhook'], NOW);
    let passes = 0;
    for (;;) {
      passes++;
      const report = await deliver(store, channels, clock.now(), { clock, log: (l) => log.push(l), onOutcome: (c, o) => outcomes.push(`${c} ${o}`) });
      if (report.failed) break;
      expect(report).toMatchObject({ sent: 0, retrying: 1, failed: 0 });
      clock.set(new Date(report.nextAttemptAt!));
    }
    const gaps = hook.times.slice(1).map((t, i) => (t - hook.times[i]!) / 1000);
    // 5 and 10 s are waited in the first pass; from 20 s on, each retry is a later pass.
    expect(clock.slept).toEqual([5000, 10_000]);
    expect(gaps.slice(0, 10)).toEqual([5, 10, 20, 40, 80, 160, 320, 600, 600, 600]);
    expect(new Set(gaps.slice(7))).toEqual(new Set([600]));
    // Attempts at 0, 5, 15, 35, 75, 155, 315, 635 s, then every 600 s to 21035 s: the next one,
    // at 21635 s, would be past 6 h (21600 s), so the attempt at 21035 s is the last.
    expect(hook.times.at(-1)).toBe(21_035_000);
    expect(hook.times).toHaveLength(42);
    expect(passes).toBe(1 + 41 - 2);
    expect(outcomes).toEqual(['webhook failed']);
    expect(await row(store, 'bo')).toMatchObject({ status: 'failed', attempts: 42, finishedAt: later(21_035_000).toISOString() });
    expect(log.at(-1)).toBe(
      `alert triggered ${event('bo').checkId} via webhook: failed for good after 42 attempt(s), still failing 21035 s after it was recorded (gives up after 6 h): webhook: HTTP 500`,
    );
    await hook.close();
  });

  it('stops at a permanent 400 without retrying, and logs no secret', async () => {
    const store = await freshStore();
    const log: string[] = [];
    const refusing = await capture([reply(400)]);
    await enqueue(store, [event('e3')], ['webhook'], NOW);
    const bad = new Map([['webhook', webhookChannel(refusing.url)]]);
    const outcomes: string[] = [];
    expect(await deliver(store, bad, NOW, { clock: fakeClock(NOW), log: (l) => log.push(l), onOutcome: (c, o) => outcomes.push(`${c} ${o}`) })).toEqual({ sent: 0, retrying: 0, failed: 1 });
    expect(outcomes).toEqual(['webhook failed']);
    expect(await deliver(store, bad, later(3_600_000), { clock: fakeClock(later(3_600_000)) })).toEqual({ sent: 0, retrying: 0, failed: 0 });
    expect(refusing.bodies).toHaveLength(1);
    expect(log.join('\n')).toContain('failed for good after 1 attempt(s), the receiver refused it for good: webhook: HTTP 400');
    expect(log.join('\n')).not.toContain('SECRET-SIG');
    await refusing.close();
  });

  it('treats a receiver slower than the timeout as a failure worth retrying', async () => {
    const store = await freshStore();
    const slow = await capture([() => undefined]); // never answers
    await enqueue(store, [event('e4')], ['webhook'], NOW);
    const clock = fakeClock(NOW);
    const report = await deliver(store, new Map([['webhook', webhookChannel(slow.url, { timeoutMs: 200 })]]), NOW, { clock });
    expect(report).toEqual({ sent: 0, retrying: 1, failed: 0, nextAttemptAt: later(15_000 + 20_000).toISOString() });
    expect(clock.slept).toEqual([5000, 10_000]);
    expect(slow.bodies).toHaveLength(3);
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
    const at = (ms: number) => ({ clock: fakeClock(later(ms)) });
    expect(await deliver(store, channels, later(60_000), at(60_000))).toEqual({ sent: 0, retrying: 0, failed: 0, nextAttemptAt: later(120_000).toISOString() }); // still claimed
    expect(await deliver(store, channels, later(120_000), at(120_000))).toEqual({ sent: 1, retrying: 0, failed: 0 });
    expect(await deliver(store, channels, later(300_000), at(300_000))).toEqual({ sent: 0, retrying: 0, failed: 0 });
    expect(hook.bodies).toHaveLength(1);
    await hook.close();
  });

  it('leaves a row pending, due when it said, when the process stops during an in-pass wait; the next run sends it once', async () => {
    const store = await freshStore();
    const clock = fakeClock(NOW);
    const hook = await timedCapture(clock, [reply(429, { 'retry-after': '2' }), reply(202)]);
    const channels = new Map([['webhook', webhookChannel(hook.url)]]);
    await enqueue(store, [event('cut')], ['webhook'], NOW);
    clock.cutNextSleep();
    expect(await deliver(store, channels, NOW, { clock })).toEqual({ sent: 0, retrying: 1, failed: 0, nextAttemptAt: later(2000).toISOString() });
    expect(await row(store, 'cut')).toMatchObject({ status: 'pending', attempts: 1, nextAttemptAt: later(2000).toISOString() });
    clock.set(later(2000));
    expect(await deliver(store, channels, clock.now(), { clock })).toEqual({ sent: 1, retrying: 0, failed: 0 });
    expect(hook.times).toEqual([0, 2000]);
    await hook.close();
  });

  it('sends once when another instance takes the row while this one waits out a Retry-After', async () => {
    const store = await freshStore();
    const clockA = fakeClock(NOW);
    const hook = await capture([reply(429, { 'retry-after': '1' }), reply(202)]);
    const channels = new Map([['webhook', webhookChannel(hook.url)]]);
    await enqueue(store, [event('race')], ['webhook'], NOW);
    // Instance A is asleep in its pass until instance B has run a pass of its own at +1 s.
    let wakeA = (): void => undefined;
    const asleep = new Promise<void>((resolve) => (wakeA = resolve));
    let sleeping = (): void => undefined;
    const fellAsleep = new Promise<void>((resolve) => (sleeping = resolve));
    const a = deliver(store, channels, NOW, {
      clock: {
        now: clockA.now,
        sleep: async (ms) => {
          sleeping();
          await asleep;
          return clockA.sleep(ms);
        },
      },
    });
    await fellAsleep;
    const b = await deliver(store, channels, later(1000), { clock: fakeClock(later(1000)) });
    wakeA();
    expect(b).toEqual({ sent: 1, retrying: 0, failed: 0 });
    expect(await a).toEqual({ sent: 0, retrying: 0, failed: 0 });
    expect(hook.bodies).toHaveLength(2); // the throttled try and one accepted delivery
    expect(await row(store, 'race')).toMatchObject({ status: 'sent', attempts: 2 });
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
