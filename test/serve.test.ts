import { createServer as createHttpServer } from 'node:http';
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

describe("serve's alerts link to its own status page", () => {
  interface Hook {
    readonly url: string;
    readonly bodies: string[];
    close(): Promise<void>;
  }

  /** A real loopback webhook receiver, its path a secret as webhook URLs are. */
  async function receiver(): Promise<Hook> {
    const bodies: string[] = [];
    const server = createHttpServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d));
      req.on('end', () => {
        bodies.push(body);
        res.writeHead(202).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    return {
      url: `http://127.0.0.1:${port}/hooks/wbmon?sig=hook-secret-5e6f`,
      bodies,
      close: () => new Promise<void>((r) => server.close(() => r())),
    };
  }

  async function downAlert(env: Record<string, string>): Promise<{ monitor: RunningMonitor; payload: any; raw: string; lines: string[]; checkId: string }> {
    const cert = await ca.issue({ names: ['localhost'] });
    const down = await startHttps(cert, respond(503));
    servers.push(down);
    const hook = await receiver();
    servers.push({ port: 0, url: hook.url, close: hook.close });
    const lines: string[] = [];
    const settings = parseSettings({ WBMON_TARGETS: down.url, WBMON_FAILURE_THRESHOLD: '1', WBMON_WEBHOOK_URL: hook.url, ...env });
    const monitor = await serve({ settings, port: 0, log: (l) => lines.push(l), probe: { extraCa: [ca.cert] } });
    await monitor.firstCycle;
    expect(hook.bodies).toHaveLength(1);
    return { monitor, payload: JSON.parse(hook.bodies[0]!), raw: hook.bodies[0]!, lines, checkId: `cloud:${down.url}` };
  }

  it("delivers a webhook whose link is serve's own URL, the check's section of /api/dashboard, and nothing of the webhook URL", async () => {
    const { monitor, payload, raw, lines, checkId } = await downAlert({});
    try {
      expect(payload).toMatchObject({ kind: 'triggered', checkId, state: 'down' });
      expect(payload.links.dashboard.startsWith(`${monitor.url}/api/dashboard#check-`)).toBe(true);
      expect(payload.links).toEqual({ dashboard: `${monitor.url}/api/dashboard#check-${encodeURIComponent(checkId)}` });
      expect(payload.links.dashboard).toMatch(/#check-cloud%3Ahttps%3A%2F%2Flocalhost%3A\d+%2F$/);
      expect(raw).not.toMatch(/hook-secret|\/hooks\/wbmon/);
      expect(lines).toContain(`alert links: ${monitor.url}/api/dashboard`);
    } finally {
      await monitor.stop();
    }
  });

  it('links to WBMON_PUBLIC_URL instead when it is set (a reverse proxy in front of serve)', async () => {
    const { monitor, payload, lines, checkId } = await downAlert({ WBMON_PUBLIC_URL: 'https://wbmon.contoso.com/monitor/' });
    try {
      expect(payload.links).toEqual({ dashboard: `https://wbmon.contoso.com/monitor/api/dashboard#check-${encodeURIComponent(checkId)}` });
      expect(lines).toContain('alert links: https://wbmon.contoso.com/monitor/api/dashboard (WBMON_PUBLIC_URL)');
    } finally {
      await monitor.stop();
    }
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
