import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSettings } from '../src/config/settings.js';
import { listChecks, listTransitions } from '../src/monitor/checks-repository.js';
import { cloudCheckId, runProbeCycle } from '../src/monitor/probe-cycle.js';
import { startAzurite, type RunningAzurite } from '../src/local/azurite.js';
import { MemoryStore } from '../src/store/memory-store.js';
import type { Store } from '../src/store/store.js';
import { TableStore } from '../src/store/table-store.js';
import { createTestCa, type KeyAndCert, type TestCa } from './support/certs.js';
import { respond, startHttps, type Running } from './support/servers.js';

let ca: TestCa;
let cert: KeyAndCert;
let azurite: RunningAzurite;
const servers: Running[] = [];
let tableCount = 0;

beforeAll(async () => {
  ca = await createTestCa();
  cert = await ca.issue({ names: ['localhost'], ips: ['127.0.0.1'] });
  azurite = await startAzurite({});
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await azurite.close();
});

async function https(handler = respond(200)): Promise<Running> {
  const s = await startHttps(cert, handler);
  servers.push(s);
  return s;
}

const stores: Record<string, () => Store> = {
  memory: () => new MemoryStore(),
  'table storage on Azurite': () => TableStore.fromConnectionString(azurite.connectionString, { tableName: `cycle${++tableCount}` }),
};

for (const [name, makeStore] of Object.entries(stores)) {
  describe(`probe cycle with the ${name} store`, () => {
    it('records one check per target and a transition when a target goes down', async () => {
      const good = await https();
      const bad = await https(respond(503));
      const settings = parseSettings({ WBMON_TARGETS: `${good.url},${bad.url}`, WBMON_FAILURE_THRESHOLD: '2' });
      const store = makeStore();
      await store.ready();
      const io = { extraCa: [ca.cert] };

      const first = await runProbeCycle(settings, store, 'local', io);
      expect(first.results.map((r) => r.ok)).toEqual([true, false]);
      expect(first.transitions.map((t) => `${t.checkId} ${t.from}->${t.to}`)).toEqual([`${cloudCheckId(good.url)} new->up`]);

      const second = await runProbeCycle(settings, store, 'local', io);
      expect(second.transitions.map((t) => `${t.checkId} ${t.from}->${t.to}`)).toEqual([`${cloudCheckId(bad.url)} new->down`]);
      expect(second.transitions[0]?.reason).toBe('http_status in http: HTTP 503; expected an HTTP status below 500');

      const checks = await listChecks(store);
      expect(checks.map((c) => [c.target, c.state, c.location, c.consecutiveFailures, c.consecutiveSuccesses])).toEqual(
        [
          [good.url, 'up', 'local', 0, 2],
          [bad.url, 'down', 'local', 2, 0],
        ].sort((a, b) => (String(a[0]) < String(b[0]) ? -1 : 1)),
      );
      expect((await listTransitions(store, cloudCheckId(bad.url))).map((t) => t.to)).toEqual(['down']);
      await store.close();
    });

    it('loses no result when two cycles race on the same store, and records the transition once', async () => {
      const bad = await https(respond(500));
      const settings = parseSettings({ WBMON_TARGETS: bad.url, WBMON_FAILURE_THRESHOLD: '2' });
      const store = makeStore();
      await store.ready();
      // Distinct clocks: two results stamped the same instant would count as one (a repeat).
      const t0 = Date.now();
      await Promise.all([
        runProbeCycle(settings, store, 'local', { extraCa: [ca.cert], now: () => new Date(t0) }),
        runProbeCycle(settings, store, 'local', { extraCa: [ca.cert], now: () => new Date(t0 + 1) }),
      ]);
      const [check] = await listChecks(store);
      expect(check?.consecutiveFailures).toBe(2);
      expect(check?.state).toBe('down');
      expect((await listTransitions(store, cloudCheckId(bad.url))).map((t) => `${t.from}->${t.to}`)).toEqual(['new->down']);
      await store.close();
    });
  });
}

describe('probe cycle concurrency', () => {
  it('probes all targets at once: every server holds its answer until all have been asked', async () => {
    // A barrier, not a stopwatch: if the cycle probed one target after another, the first
    // server would wait for requests that never come and the probe would time out.
    const count = 5;
    const waiting: ServerResponse[] = [];
    const barrier = (_req: IncomingMessage, res: ServerResponse): void => {
      waiting.push(res);
      if (waiting.length === count) for (const r of waiting) r.end('ok');
    };
    const targets = await Promise.all(Array.from({ length: count }, () => https(barrier)));
    const settings = parseSettings({ WBMON_TARGETS: targets.map((t) => t.url).join(','), WBMON_PROBE_TIMEOUT_MS: '5000' });
    const outcome = await runProbeCycle(settings, new MemoryStore(), 'local', { extraCa: [ca.cert] });
    expect(outcome.results.map((r) => r.failure?.code ?? 'ok')).toEqual(Array(count).fill('ok'));
  });
});

describe('probe cycle observers', () => {
  it('hands every result to the observer with its check identity (the availability results)', async () => {
    const up = await https();
    const down = await https(respond(503));
    const settings = parseSettings({ WBMON_TARGETS: `${up.url},${down.url}` });
    const seen: string[] = [];
    await runProbeCycle(settings, new MemoryStore(), 'westeurope', {
      extraCa: [ca.cert],
      observe: (identity, result) => seen.push(`${identity.id} ${identity.location} ${result.ok}`),
    });
    expect(seen.sort()).toEqual([`cloud:${down.url} westeurope false`, `cloud:${up.url} westeurope true`].sort());
  });
});
