/** The relay agent against a real `serve` (embedded HTTP API, Azurite in-process). */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOST_NAME_RULE } from '../src/config/hostname.js';
import { parseSettings } from '../src/config/settings.js';
import { startAzurite, type RunningAzurite } from '../src/local/azurite.js';
import { serve, type RunningMonitor } from '../src/local/serve.js';
import { RelayAgent } from '../src/relay/agent.js';
import { confirmOnPrem, relayResets } from '../src/roundtrip/confirmation.js';
import { SequenceFile } from '../src/relay/sequence.js';
import { parseRelaySettings } from '../src/relay/settings.js';
import { TableStore } from '../src/store/table-store.js';
import { createTestCa, type TestCa } from './support/certs.js';
import { RELAYS_JSON, SECRET_A, SECRET_B } from './support/heartbeats.js';
import { startHttps, type Running } from './support/servers.js';

let ca: TestCa;
let target: Running;
let azurite: RunningAzurite;
let store: TableStore;
const dirs: string[] = [];

function stateDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'wbmon-relay-'));
  dirs.push(dir);
  return dir;
}

async function startMonitor(port = 0): Promise<RunningMonitor> {
  const settings = parseSettings({ WBMON_TARGETS: target.url, WBMON_RELAYS: RELAYS_JSON, AzureWebJobsStorage: azurite.connectionString });
  const monitor = await serve({ settings, port, log: () => undefined, probe: { extraCa: [ca.cert] } });
  await monitor.firstCycle;
  return monitor;
}

function relaySettings(monitorUrl: string, extra: Record<string, string> = {}) {
  return parseRelaySettings({
    WBMON_MONITOR_URL: monitorUrl,
    WBMON_RELAY_ID: 'relay-a',
    WBMON_RELAY_SECRET: SECRET_A,
    WBMON_RELAY_TARGETS: target.url,
    WBMON_RELAY_STATE_DIR: stateDir(),
    ...extra,
  });
}

beforeAll(async () => {
  ca = await createTestCa();
  target = await startHttps(await ca.issue({ names: ['localhost'] }));
  azurite = await startAzurite({});
  store = TableStore.fromConnectionString(azurite.connectionString);
});
afterAll(async () => {
  await target.close();
  await azurite.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function statusOf(monitor: RunningMonitor): Promise<any> {
  return (await fetch(`${monitor.url}/api/status`)).json();
}

describe('relay agent and monitor, end to end in one process', () => {
  it('one cycle makes the relay up in /api/status, and evaluation turns its results into relay checks', async () => {
    const monitor = await startMonitor();
    const agent = new RelayAgent(relaySettings(monitor.url), { extraCa: [ca.cert] });
    try {
      const report = await agent.cycle();
      expect(report.outcome).toEqual({ kind: 'accepted', status: 202 });
      expect(report).toMatchObject({ delivered: 1, pending: 0, dropped: 0 });
      expect(report.heartbeat.results.map((r) => [r.target, r.ok])).toEqual([[target.url, true]]);

      let body = await statusOf(monitor);
      expect(body.relays.find((r: any) => r.relayId === 'relay-a')).toMatchObject({ state: 'up', lastSequence: report.sequence, buffer: { pending: 0, dropped: 0 } });

      await monitor.run('evaluateHeartbeats');
      body = await statusOf(monitor);
      const checks = Object.fromEntries(body.checks.map((c: any) => [c.id, c]));
      expect(checks[`relay:relay-a:${target.url}`]).toMatchObject({ kind: 'relay-probe', location: 'relay-a', state: 'up' });
      expect(checks['heartbeat:relay-a']).toMatchObject({ kind: 'heartbeat', state: 'up' });
    } finally {
      await agent.close();
      await monitor.stop();
    }
  });

  it('runs the idle-keepalive test in the background and reports it with the next heartbeat, as a keepalive check', async () => {
    const monitor = await startMonitor();
    // The target is a plain Node server: it announces and enforces a 5 s keep-alive, so 1 s survives.
    const agent = new RelayAgent(relaySettings(monitor.url, { WBMON_KEEPALIVE_IDLE: '1', WBMON_KEEPALIVE_MIN: '1' }), { extraCa: [ca.cert] });
    try {
      const first = await agent.cycle({ keepalive: true });
      expect(first.heartbeat.keepalive).toBeUndefined();
      await agent.keepaliveSettled();
      const second = await agent.cycle({ keepalive: false });
      expect(second.heartbeat.keepalive).toMatchObject({ target: target.url, requiredSeconds: 1, passed: true });
      expect(second.heartbeat.keepalive?.results).toEqual([
        expect.objectContaining({ idleSeconds: 1, survived: true, serverKeepAliveSeconds: 5 }),
      ]);
      const third = await agent.cycle();
      expect(third.heartbeat.keepalive).toBeUndefined(); // reported once

      await monitor.run('evaluateHeartbeats');
      const body = await statusOf(monitor);
      expect(body.relays.find((r: any) => r.relayId === 'relay-a').lastKeepalive).toMatchObject({ passed: true, requiredSeconds: 1 });
      expect(body.checks.find((c: any) => c.id === 'keepalive:relay-a')).toMatchObject({ kind: 'keepalive', state: 'up', target: target.url });
    } finally {
      await agent.close();
      await monitor.stop();
    }
  });

  it("reports Connect's event log and the domain controller, and the cloud adds the tenant's relay namespace to its targets", async () => {
    const { readFileSync } = await import('node:fs');
    const { cloudTargets } = await import('../src/monitor/probe-cycle.js');
    const monitor = await startMonitor();
    const broken = readFileSync(join(import.meta.dirname, 'fixtures', 'wevtutil', 'broken.xml'), 'utf8');
    const agent = new RelayAgent(relaySettings(monitor.url, { WBMON_DC_HOST: '127.0.0.1' }), {
      extraCa: [ca.cert],
      eventLog: { platform: 'win32', run: async () => broken, now: () => new Date('2026-03-01T10:00:00Z') },
    });
    try {
      const report = await agent.cycle();
      expect(report.outcome).toEqual({ kind: 'accepted', status: 202 });
      expect(report.heartbeat.eventLog?.failures.map((f) => f.eventId)).toEqual([31034, 6800]);
      // Every port of Microsoft's list is checked; nothing listens on the AD ones on this machine's loopback (53 may be a local resolver).
      expect(report.heartbeat.dc?.ports.map((p) => p.port)).toEqual([53, 88, 135, 389, 445, 636, 3268]);
      expect(report.heartbeat.dc?.ports.filter((p) => p.port !== 53).map((p) => [p.port, p.ok, p.error])).toEqual([
        [88, false, 'ECONNREFUSED'],
        [135, false, 'ECONNREFUSED'],
        [389, false, 'ECONNREFUSED'],
        [445, false, 'ECONNREFUSED'],
        [636, false, 'ECONNREFUSED'],
        [3268, false, 'ECONNREFUSED'],
      ]);
      expect(report.heartbeat.dc).toMatchObject({ host: '127.0.0.1', found: 'setting' });
      await monitor.run('evaluateHeartbeats');
      const body = await statusOf(monitor);
      const checks = Object.fromEntries(body.checks.map((c: any) => [c.id, c]));
      expect(checks['eventlog:relay-a'].lastResult.failure).toMatchObject({ code: 'event_31034', phase: 'eventlog' });
      expect(checks['eventlog:relay-a'].lastResult.failure.message).toMatch(
        /^Connect logged PasswordResetService 31034 at 2026-03-01T09:58:30.000Z; event text \(from the server's Application log, not verified\): "TrackingId: 5f0c.*…" \(\+1 more outage event\)$/,
      );
      expect(checks['dc:relay-a'].lastResult.failure).toMatchObject({ code: 'dc_unreachable', phase: 'tcp' });
      expect(checks['dc:relay-a'].lastResult.failure.message).toMatch(
        /^domain controller 127\.0\.0\.1: (port 53 ECONNREFUSED, )?port 88 ECONNREFUSED, port 135 ECONNREFUSED, port 389 ECONNREFUSED, port 445 ECONNREFUSED, port 636 ECONNREFUSED, port 3268 ECONNREFUSED$/,
      );
      const settings = parseSettings({ WBMON_TARGETS: target.url });
      expect(await cloudTargets(settings, store)).toEqual([
        target.url,
        'https://ssprdedicatedsbprodscu.servicebus.windows.net/',
      ]);
    } finally {
      await agent.close();
      await monitor.stop();
    }
  });

  it("looks for the round trip's test user in Connect's log once the monitor's answer names them, and the monitor joins what it finds to the cloud's reset", async () => {
    const { readFileSync } = await import('node:fs');
    const names = ['rt-test@contoso.com', 'rttest'];
    await store.insert('roundtrip', 'subject', { userId: '6f1c2d3e-0000-4000-8000-000000000001', names, updatedAt: new Date().toISOString() });
    const monitor = await startMonitor();
    const xml = readFileSync(join(import.meta.dirname, 'fixtures', 'wevtutil', 'admin-resets.xml'), 'utf8');
    const agent = new RelayAgent(relaySettings(monitor.url), {
      extraCa: [ca.cert],
      eventLog: { platform: 'win32', run: async () => xml, now: () => new Date('2026-03-01T10:00:00Z') },
    });
    try {
      // A relay keeps the names in memory only: its first heartbeat knows none, its answer brings them.
      const first = await agent.cycle();
      expect(first.outcome).toEqual({ kind: 'accepted', status: 202, roundtripUsers: names });
      expect(first.heartbeat.eventLog).not.toHaveProperty('adminResets');
      const second = await agent.cycle();
      expect(second.outcome).toEqual({ kind: 'accepted', status: 202, roundtripUsers: names });
      expect(second.heartbeat.eventLog?.adminResets?.map((r) => [r.eventId, r.time, r.user])).toEqual([
        [31010, '2026-03-01T09:50:02.000Z', 'rt-test@contoso.com'],
        [31009, '2026-03-01T09:50:00.000Z', 'rt-test@contoso.com'],
        [31011, '2026-03-01T09:48:00.000Z', 'rt-test@contoso.com'],
        [31009, '2026-03-01T09:30:00.000Z', 'rttest'],
      ]);
      const relays = await relayResets(store, parseSettings({ WBMON_RELAYS: RELAYS_JSON }));
      expect(relays.find((r) => r.relayId === 'relay-a')).toMatchObject({ readsEventLog: true, reportsResets: true });
      expect(confirmOnPrem({ requestedAt: '2026-03-01T09:50:00.000Z', names, relays, now: new Date('2026-03-01T09:55:00Z'), windowMinutes: 15 })).toEqual({
        kind: 'written',
        relayId: 'relay-a',
        at: '2026-03-01T09:50:02.000Z',
      });
      // The monitor no longer asks (no row; a restarted monitor, so no cached names): its answer
      // names nobody, and the heartbeat after it looks for nobody.
      await store.delete('roundtrip', 'subject');
      await monitor.stop();
      const back = await startMonitor(Number(new URL(monitor.url).port));
      try {
        const third = await agent.cycle();
        expect(third.outcome).toEqual({ kind: 'accepted', status: 202 });
        expect(third.heartbeat.eventLog?.adminResets).toHaveLength(4);
        expect((await agent.cycle()).heartbeat.eventLog).not.toHaveProperty('adminResets');
      } finally {
        await back.stop();
      }
    } finally {
      await store.delete('roundtrip', 'subject');
      await agent.close();
      await monitor.stop();
    }
  });

  it("keeps the heartbeat and says so when the monitor refuses this relay's secret", async () => {
    const monitor = await startMonitor();
    const settings = relaySettings(monitor.url, { WBMON_RELAY_SECRET: SECRET_B });
    const agent = new RelayAgent(settings, { extraCa: [ca.cert] });
    try {
      const report = await agent.cycle();
      expect(report.outcome.kind).toBe('unauthorized');
      expect(report.outcome).toMatchObject({ status: 401 });
      expect(report.pending).toBe(1);
    } finally {
      await agent.close();
      await monitor.stop();
    }
  });

  it('buffers while the monitor is down and delivers every heartbeat once, in order, when it returns', async () => {
    const first = await startMonitor();
    const port = Number(new URL(first.url).port);
    await first.stop();
    const before = (await store.list('heartbeats', { prefix: 'relay-a|' })).length;

    const agent = new RelayAgent(relaySettings(first.url), { extraCa: [ca.cert] });
    const buffered: number[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        const report = await agent.cycle();
        // The first fails to send; later ones wait behind it, so order is kept.
        expect(report.outcome.kind).toBe(i === 0 ? 'retry' : 'buffered');
        if (i > 0) expect(report.outcome).toMatchObject({ message: expect.stringContaining('retry: ') });
        buffered.push(report.sequence);
        expect(report.pending).toBe(i + 1);
      }
      const back = await startMonitor(port);
      try {
        const report = await agent.cycle();
        expect(report.outcome).toEqual({ kind: 'accepted', status: 202 });
        expect(report).toMatchObject({ delivered: 4, pending: 0, dropped: 0 });
        const stored = (await store.list<any>('heartbeats', { prefix: 'relay-a|' })).slice(before).map((e) => e.value.sequence);
        expect(stored).toEqual([...buffered, report.sequence]);
        // The backlog travelled with the heartbeats: the last one saw three waiting.
        expect(report.heartbeat.buffer).toEqual({ pending: 3, dropped: 0 });
      } finally {
        await back.stop();
      }
    } finally {
      await agent.close();
    }
  });

  it('drops the oldest heartbeats past the buffer limit and counts them', async () => {
    const gone = await startMonitor();
    await gone.stop();
    const agent = new RelayAgent(relaySettings(gone.url, { WBMON_RELAY_BUFFER_MAX: '2' }), { extraCa: [ca.cert] });
    try {
      const reports = [];
      for (let i = 0; i < 4; i++) reports.push(await agent.cycle());
      expect(reports.map((r) => [r.pending, r.dropped])).toEqual([
        [1, 0],
        [2, 0],
        [2, 1],
        [2, 2],
      ]);
    } finally {
      await agent.close();
    }
  });
});

describe('relay sequence numbers', () => {
  it('grow across restarts and even when the state directory is wiped', async () => {
    const dir = stateDir();
    const now = new Date('2026-03-01T10:00:00Z');
    const a = await new SequenceFile(dir).next(now);
    const b = await new SequenceFile(dir).next(now);
    expect(a).toBe(now.getTime());
    expect(b).toBe(a + 1);
    rmSync(dir, { recursive: true, force: true });
    expect(await new SequenceFile(dir).next(new Date(now.getTime() + 1000))).toBeGreaterThan(b);
  });

  it('start again from the clock when counting on would pass the limit the monitor accepts, the clock + 360 s', async () => {
    const dir = stateDir();
    const now = new Date('2026-03-01T10:00:00Z');
    writeFileSync(join(dir, 'sequence'), String(now.getTime() + 360_000 - 1));
    expect(await new SequenceFile(dir).next(now)).toBe(now.getTime() + 360_000);
    writeFileSync(join(dir, 'sequence'), String(Number.MAX_SAFE_INTEGER));
    expect(await new SequenceFile(dir).next(now)).toBe(now.getTime());
    expect(await new SequenceFile(dir).next(now)).toBe(now.getTime() + 1);
  });
});

describe('relay settings', () => {
  it('reports every missing or bad setting at once, naming each', () => {
    expect(() => parseRelaySettings({ WBMON_MONITOR_URL: 'http://monitor.example', WBMON_RELAY_SECRET: 'short', WBMON_KEEPALIVE_IDLE: '180,0,x' })).toThrow(
      [
        'WBMON_MONITOR_URL: must be https (plain http only to a loopback host)',
        "WBMON_RELAY_ID: required: this relay's id, a key of WBMON_RELAYS on the monitor",
        'WBMON_RELAY_SECRET: must be at least 32 characters',
        'WBMON_KEEPALIVE_IDLE: "0", "x": idle lengths are whole seconds from 1 to 3600',
      ].join('\n'),
    );
  });

  it('refuses a WBMON_DC_HOST that is not a DNS name or an IP literal, with one line naming it', () => {
    const base = { WBMON_MONITOR_URL: 'https://monitor.example', WBMON_RELAY_ID: 'relay-a', WBMON_RELAY_SECRET: SECRET_A };
    for (const host of ['dc02; Start-Process calc; echo', 'dc02|calc', 'dc02 calc', 'dc02"', "dc02'", 'dc`02', 'dc$(calc)']) {
      expect(() => parseRelaySettings({ ...base, WBMON_DC_HOST: host }), host).toThrow(
        `WBMON_DC_HOST: "${host}" is not a host name: it ${HOST_NAME_RULE}`,
      );
    }
    expect(() => parseRelaySettings({ ...base, WBMON_DC_HOST: 'dc02\r\nStart-Process calc' })).toThrow(
      `WBMON_DC_HOST: "dc02\\r\\nStart-Process calc" is not a host name: it ${HOST_NAME_RULE}`,
    );
    for (const host of ['dc01.corp.example', '10.0.0.5', 'fd00::5']) expect(parseRelaySettings({ ...base, WBMON_DC_HOST: host }).dcHost).toBe(host);
  });
});

