/** The tenant checks' timer run: Graph (loopback) into the check pipeline and the store. */
import { afterEach, describe, expect, it } from 'vitest';
import { parseSettings } from '../../src/config/settings.js';
import { listChecks } from '../../src/monitor/checks-repository.js';
import { runTenantCycle } from '../../src/monitor/tenant-cycle.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import { audit, forbidden, json, organization, sku, startGraphServer, type GraphServer, type Handler } from './graph-server.js';

const NOW = new Date('2026-03-01T12:00:00.000Z');
let server: GraphServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const routes: Record<string, Handler> = {
  '/v1.0/subscribedSkus': (_q, res) => json(res, 200, { value: [sku('EMS', [['AAD_PREMIUM', 'Success']])] }),
  '/v1.0/organization': (_q, res) => json(res, 200, organization(true, '2026-03-01T11:30:00Z')),
  '/v1.0/auditLogs/directoryAudits': (_q, res) => json(res, 200, { value: [audit('2026-03-01T11:20:00Z', 'Reset password (self-service)', 'success', '', 'jane@contoso.com')] }),
};

async function cycle(overrides: Record<string, Handler>, store: MemoryStore, now = NOW) {
  server = await startGraphServer({ ...routes, ...overrides });
  const settings = parseSettings({ WBMON_GRAPH_URL: server.baseUrl, WBMON_FAILURE_THRESHOLD: '1' });
  const seen: string[] = [];
  const run = await runTenantCycle(settings, store, async () => 'token', now, { observe: (identity, result) => seen.push(`${identity.id} ${result.ok}`) });
  return { run, seen };
}

describe('tenant check run', () => {
  it('records every tenant check at location tenant and moves the audit cursor', async () => {
    const store = new MemoryStore();
    const { run, seen } = await cycle({}, store);
    expect(run).toMatchObject({ recorded: 4, unknown: [] });
    expect(seen).toEqual(['tenant:licence true', 'tenant:sync-enabled true', 'tenant:sync-fresh true', 'tenant:writeback-failures true']);
    const checks = await listChecks(store);
    expect(checks.map((c) => [c.id, c.kind, c.location, c.state])).toEqual([
      ['tenant:licence', 'tenant', 'tenant', 'up'],
      ['tenant:sync-enabled', 'tenant', 'tenant', 'up'],
      ['tenant:sync-fresh', 'tenant', 'tenant', 'up'],
      ['tenant:writeback-failures', 'tenant', 'tenant', 'up'],
    ]);
    expect((await store.get<{ at: string }>('cursors', 'tenant-audit'))?.value).toEqual({ at: '2026-03-01T11:20:00.000Z' });
    // The next run asks only for what is newer than the cursor.
    await server!.close();
    await cycle({}, store, new Date('2026-03-01T13:00:00.000Z'));
    const auditUrl = server!.requests.find((r) => r.url.includes('directoryAudits'))?.url ?? '';
    expect(decodeURIComponent(auditUrl.replace(/\+/g, ' '))).toContain('activityDateTime ge 2026-03-01T11:20:00.000Z');
  });

  it('records a missing permission as graph_permission, and leaves out what Graph could not answer', async () => {
    const store = new MemoryStore();
    const { run } = await cycle(
      {
        '/v1.0/auditLogs/directoryAudits': forbidden,
        '/v1.0/subscribedSkus': (_q, res) => json(res, 500, { error: { code: 'InternalServerError', message: 'boom' } }),
      },
      store,
    );
    expect(run.unknown).toEqual(['tenant:licence']);
    const checks = Object.fromEntries((await listChecks(store)).map((c) => [c.id, c]));
    expect(checks['tenant:licence']).toBeUndefined();
    expect(checks['tenant:writeback-failures']?.state).toBe('down');
    expect(checks['tenant:writeback-failures']?.lastResult?.failure?.code).toBe('graph_permission');
    expect(checks['tenant:writeback-failures']?.lastResult?.failure?.message).toContain('AuditLog.Read.All');
  });
});
