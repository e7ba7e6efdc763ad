import { createServer, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSettings } from '../src/config/settings.js';
import { ACCOUNT, WELL_KNOWN_KEY } from '../src/local/azurite.js';
import { serve, type RunningMonitor } from '../src/local/serve.js';
import { createTestCa, type TestCa } from './support/certs.js';
import { respond, startHttps, type Running } from './support/servers.js';
import { listTablesStatus } from './support/tables.js';

let ca: TestCa;
const servers: Running[] = [];

beforeAll(async () => {
  ca = await createTestCa();
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

async function getJson(url: string, init?: RequestInit): Promise<{ status: number; body: any }> {
  const res = await fetch(url, init);
  return { status: res.status, body: await res.json() };
}

describe('serve', () => {
  let monitor: RunningMonitor;
  let up: Running;
  let down: Running;
  const lines: string[] = [];

  beforeAll(async () => {
    const cert = await ca.issue({ names: ['localhost'] });
    up = await startHttps(cert);
    down = await startHttps(cert, respond(503));
    servers.push(up, down);
    const settings = parseSettings({ WBMON_TARGETS: `${up.url},${down.url}`, WBMON_FAILURE_THRESHOLD: '1' });
    monitor = await serve({ settings, port: 0, log: (l) => lines.push(l), probe: { extraCa: [ca.cert] } });
    await monitor.firstCycle;
  });
  afterAll(() => monitor.stop());

  it('answers /api/health with 200 {"ok": true}', async () => {
    expect(await getJson(`${monitor.url}/api/health`)).toEqual({ status: 200, body: { ok: true } });
  });

  it('lists every target in /api/status with its state and last result phases after the first cycle', async () => {
    const { status, body } = await getJson(`${monitor.url}/api/status`);
    expect(status).toBe(200);
    const byTarget = Object.fromEntries(body.checks.map((c: any) => [c.target, c]));
    expect(Object.keys(byTarget).sort()).toEqual([up.url, down.url].sort());
    expect(byTarget[up.url]).toMatchObject({ id: `cloud:${up.url}`, kind: 'probe', location: 'local', state: 'up' });
    expect(byTarget[up.url].lastResult.http).toEqual({ status: 200 });
    expect(Object.keys(byTarget[up.url].lastResult.timings).sort()).toEqual(['dns', 'tcp', 'tls', 'total', 'ttfb']);
    expect(byTarget[down.url]).toMatchObject({ state: 'down' });
    expect(byTarget[down.url].lastResult.failure).toEqual({ code: 'http_status', phase: 'http', message: 'HTTP 503; expected an HTTP status below 500' });
    expect(body.relays).toEqual([]);
  });

  it('answers a wrong method with 405 and an unknown path with 404', async () => {
    expect(await getJson(`${monitor.url}/api/status`, { method: 'POST' })).toEqual({ status: 405, body: { error: '/api/status accepts GET only' } });
    expect(await getJson(`${monitor.url}/api/nope`)).toEqual({ status: 404, body: { error: 'no such endpoint: /api/nope' } });
  });

  it('logs a line for the timer run, with the state changes', () => {
    expect(lines.find((l) => l.startsWith('state store:'))).toMatch(/^state store: embedded Azurite on port \d+ \(in memory; a random account key for this run\)$/);
    const run = lines.find((l) => l.startsWith('probeEndpoints: probe cycle: 1/2 up'));
    expect(run).toContain(`cloud:${down.url} new->down`);
  });

  it("keeps its embedded Azurite to itself: a client with the well-known devstoreaccount1 key gets 403, while the monitor uses its state", async () => {
    const port = Number(/embedded Azurite on port (\d+)/.exec(lines.find((l) => l.startsWith('state store:')) ?? '')?.[1]);
    expect(await listTablesStatus(port, ACCOUNT, WELL_KNOWN_KEY)).toBe(403);
    const { status, body } = await getJson(`${monitor.url}/api/status`);
    expect(status).toBe(200);
    expect(body.checks).toHaveLength(2);
    expect(lines.join('\n')).not.toMatch(/AccountKey|[A-Za-z0-9+/]{86}==/);
  });
});

describe('serve with UseDevelopmentStorage=true', () => {
  it("embeds Azurite on port 10002 with the well-known key, as Storage Explorer and func start expect", async () => {
    const lines: string[] = [];
    const settings = parseSettings({ WBMON_TARGETS: 'https://127.0.0.1:1/', AzureWebJobsStorage: 'UseDevelopmentStorage=true' });
    const monitor = await serve({ settings, port: 0, log: (l) => lines.push(l) });
    try {
      await monitor.firstCycle;
      expect(lines.find((l) => l.startsWith('state store:'))).toBe(
        "state store: embedded Azurite on port 10002 (in memory; Azurite's well-known key, for UseDevelopmentStorage=true)",
      );
      expect(await listTablesStatus(10002, ACCOUNT, WELL_KNOWN_KEY)).toBe(200);
      expect((await getJson(`${monitor.url}/api/status`)).status).toBe(200);
    } finally {
      await monitor.stop();
    }
  });
});

describe('serve with a generic webhook', () => {
  const UNSIGNED = 'webhook: WBMON_WEBHOOK_SECRET is not set, so webhook requests are unsigned: receivers cannot tell them from forged ones';

  async function startLines(env: Record<string, string>): Promise<string[]> {
    const lines: string[] = [];
    const settings = parseSettings({ WBMON_TARGETS: 'https://127.0.0.1:1/', WBMON_WEBHOOK_URL: 'http://127.0.0.1:9/hook', ...env });
    const monitor = await serve({ settings, port: 0, log: (l) => lines.push(l) });
    await monitor.stop();
    return lines;
  }

  it('says once at start that webhooks are unsigned when WBMON_WEBHOOK_SECRET is not set, and not when it is', async () => {
    expect((await startLines({})).filter((l) => l.startsWith('webhook:'))).toEqual([UNSIGNED]);
    expect((await startLines({ WBMON_WEBHOOK_SECRET: 'w'.repeat(32) })).filter((l) => l.startsWith('webhook:'))).toEqual([]);
  });
});

describe('serve with storage that cannot be reached', () => {
  it('keeps answering /api/health and names AzureWebJobsStorage in /api/status, without the key', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((r) => closed.close(() => r()));
    const key = 'c2VjcmV0LWtleS1zaG91bGQtbmV2ZXItbGVhaw==';
    const settings = parseSettings({
      WBMON_TARGETS: 'https://127.0.0.1:1/',
      AzureWebJobsStorage: `DefaultEndpointsProtocol=http;AccountName=acct;AccountKey=${key};TableEndpoint=http://127.0.0.1:${port}/acct;`,
    });
    const lines: string[] = [];
    const monitor = await serve({ settings, port: 0, log: (l) => lines.push(l) });
    try {
      expect(await getJson(`${monitor.url}/api/health`)).toEqual({ status: 200, body: { ok: true } });
      const { status, body } = await getJson(`${monitor.url}/api/status`);
      expect(status).toBe(503);
      expect(body.error).toMatch(/^AzureWebJobsStorage: cannot reach the state store: /);
      await monitor.firstCycle;
      expect(lines.some((l) => l.startsWith('probeEndpoints: failed: AzureWebJobsStorage: cannot reach the state store'))).toBe(true);
      expect(JSON.stringify(body) + lines.join('\n')).not.toContain(key);
    } finally {
      await monitor.stop();
    }
  }, 60_000);
});

describe('serve --data', () => {
  it('keeps check state across a restart, so thresholds count across it', async () => {
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dataDir = mkdtempSync(join(tmpdir(), 'wbmon-data-'));
    const failing = await startHttps(await ca.issue({ names: ['localhost'] }), respond(500));
    servers.push(failing);
    const settings = parseSettings({ WBMON_TARGETS: failing.url, WBMON_FAILURE_THRESHOLD: '2' });
    const states: string[] = [];
    for (let run = 0; run < 2; run++) {
      const monitor = await serve({ settings, port: 0, dataDir, log: () => undefined, probe: { extraCa: [ca.cert] } });
      await monitor.firstCycle;
      const { body } = await getJson(`${monitor.url}/api/status`);
      states.push(body.checks[0].state);
      await monitor.stop();
    }
    // One failure per run: new after the first, down after the second, only because the
    // first run's count survived the restart.
    expect(states).toEqual(['new', 'down']);
  });
});
