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
  const settings = parseSettings({ WBMON_GRAPH_URL: server.baseUrl, WBMON_FAILURE_THRESHOLD: '3' });
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

  it('counts one failed tenant reading as down, whatever WBMON_FAILURE_THRESHOLD says for probes', async () => {
    const store = new MemoryStore();
    await cycle(
      {
        '/v1.0/auditLogs/directoryAudits': (_q, res) =>
          json(res, 200, { value: [audit('2026-03-01T11:40:00Z', 'Reset password (self-service)', 'failure', 'OnPremisesConnectivityError', 'jane@contoso.com')] }),
      },
      store,
    );
    const checks = Object.fromEntries((await listChecks(store)).map((c) => [c.id, c]));
    expect(checks['tenant:writeback-failures']?.state).toBe('down');
    expect(checks['tenant:writeback-failures']?.lastResult?.failure?.message).toBe(
      '1 password writeback failure since 2026-03-01T11:00:00.000Z; on-premises connectivity: 1 (j***@contoso.com)',
    );
  });

  it('keeps writeback disabled in the cursor across runs until the audit log shows it enabled again', async () => {
    const store = new MemoryStore();
    const toggle = (activity: string, at: string): Handler => (_q, res) =>
      json(res, 200, { value: [{ ...audit(at, activity, 'success', '', 'admin@contoso.com'), category: 'DirectoryManagement' }] });
    await cycle({ '/v1.0/auditLogs/directoryAudits': toggle('Disable password writeback for directory', '2026-03-01T11:45:00Z') }, store);
    expect((await store.get('cursors', 'tenant-audit'))?.value).toEqual({
      at: '2026-03-01T11:45:00.000Z',
      writebackDisabled: { at: '2026-03-01T11:45:00.000Z', by: 'a***@contoso.com' },
    });
    // An hour later nothing new is logged: still disabled, still down.
    await server!.close();
    await cycle({ '/v1.0/auditLogs/directoryAudits': (_q, res) => json(res, 200, { value: [] }) }, store, new Date('2026-03-01T13:00:00.000Z'));
    let check = (await listChecks(store)).find((c) => c.id === 'tenant:writeback-failures');
    expect(check?.state).toBe('down');
    expect(check?.lastResult?.failure).toMatchObject({
      code: 'writeback_disabled',
      message: 'password writeback was disabled for the directory at 2026-03-01T11:45:00.000Z by a***@contoso.com',
    });
    // Turned back on: the reading is clean again.
    await server!.close();
    await cycle({ '/v1.0/auditLogs/directoryAudits': toggle('Enable password writeback for directory', '2026-03-01T13:10:00Z') }, store, new Date('2026-03-01T14:00:00.000Z'));
    check = (await listChecks(store)).find((c) => c.id === 'tenant:writeback-failures');
    expect(check?.lastResult?.ok).toBe(true);
    expect((await store.get('cursors', 'tenant-audit'))?.value).toEqual({ at: '2026-03-01T13:10:00.000Z' });
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
