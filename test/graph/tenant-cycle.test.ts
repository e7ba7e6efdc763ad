/** The tenant checks' timer run: Graph (loopback) into the check pipeline and the store. */
import { afterEach, describe, expect, it } from 'vitest';
import type { Channel } from '../../src/alerting/channels/channel.js';
import type { AlertEvent } from '../../src/alerting/event.js';
import { evaluateAlerts } from '../../src/alerting/evaluate-alerts.js';
import { status } from '../../src/api/handlers.js';
import { parseSettings } from '../../src/config/settings.js';
import { listChecks } from '../../src/monitor/checks-repository.js';
import { CONFIG_GRACE_MS } from '../../src/monitor/retirement.js';
import { runTenantCycle } from '../../src/monitor/tenant-cycle.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import {
  audit,
  forbidden,
  jobRoutes,
  json,
  organization,
  servicePrincipal,
  servicePrincipals,
  sku,
  startGraphServer,
  synchronizationJob,
  type GraphServer,
  type Handler,
} from './graph-server.js';

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
  '/v1.0/servicePrincipals': servicePrincipals([]),
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

describe('the engines a tenant run found', () => {
  const CONTOSO = 'c0a1b2c3-0000-4000-8000-000000000001';
  const FABRIKAM = 'f0a1b2c3-0000-4000-8000-000000000002';
  const twoDomains = {
    '/v1.0/servicePrincipals': servicePrincipals([servicePrincipal(CONTOSO, 'contoso.com'), servicePrincipal(FABRIKAM, 'fabrikam.com')]),
    ...jobRoutes({
      [CONTOSO]: [synchronizationJob({})],
      [FABRIKAM]: [synchronizationJob({ id: 'AD2AADProvisioning.0123456789abcdef0123456789abcdef', code: 'Quarantine', quarantine: { seriesBegan: '2026-03-01T09:00:00Z', nextAttempt: '2026-03-01T13:00:00Z', reason: 'TooManyDeletes' } })],
    }),
  };

  it('are stored and shown in /api/status beside the checks, which stay as they were', async () => {
    const store = new MemoryStore();
    const before = (await status(store, [], new Map(), NOW)).body as { tenant: unknown };
    expect(before.tenant).toBeNull();
    const { run } = await cycle(twoDomains, store);
    expect(run).toMatchObject({ recorded: 6, unknown: [] });
    const body = (await status(store, [], new Map(), NOW)).body as { checks: Array<{ id: string; state: string }>; tenant: unknown };
    expect(body.tenant).toEqual({
      checkedAt: NOW.toISOString(),
      engines: {
        connectSync: null,
        connectSyncBasis: expect.stringContaining('Cloud Sync is configured'),
        cloudSync: [
          { id: CONTOSO, displayName: 'contoso.com', jobId: 'AD2AADProvisioning.fc96887f36da47508c935c28a0c0b6da', state: 'Active', checkId: `tenant:cloudsync:${CONTOSO}` },
          { id: FABRIKAM, displayName: 'fabrikam.com', jobId: 'AD2AADProvisioning.0123456789abcdef0123456789abcdef', state: 'Quarantine', checkId: `tenant:cloudsync:${FABRIKAM}` },
        ],
        writebackAgentSeenAt: { connectSync: null, cloudSync: null },
      },
    });
    expect(body.checks.filter((c) => c.id.startsWith('tenant:cloudsync:')).map((c) => [c.id, c.state])).toEqual([
      [`tenant:cloudsync:${CONTOSO}`, 'up'],
      [`tenant:cloudsync:${FABRIKAM}`, 'down'],
    ]);
  });

  it('keep the last list when the configurations cannot be read, and say why', async () => {
    const store = new MemoryStore();
    await cycle(twoDomains, store);
    await server!.close();
    const later = new Date(NOW.getTime() + 3_600_000);
    const { run } = await cycle({ '/v1.0/servicePrincipals': (_q, res) => json(res, 500, { error: { code: 'InternalServerError', message: 'x' } }) }, store, later);
    expect(run.unknown).toEqual([`tenant:cloudsync:${CONTOSO}`, `tenant:cloudsync:${FABRIKAM}`]);
    const { tenant } = (await status(store, [], new Map(), later)).body as { tenant: { engines: { cloudSync: unknown[]; cloudSyncProblem?: string } } };
    expect(tenant.engines.cloudSync).toHaveLength(2);
    expect(tenant.engines.cloudSyncProblem).toContain('HTTP 500');
  });

  it('retire the check of a configuration that was deleted, and of none while the list cannot be read', async () => {
    const store = new MemoryStore();
    const events: AlertEvent[] = [];
    const channels = new Map<string, Channel>([['record', { name: 'record', send: async (e: AlertEvent) => void events.push(e) }]]);
    const settings = parseSettings({});
    await cycle(twoDomains, store);
    await evaluateAlerts(settings, store, channels, NOW);
    expect(events.map((e) => `${e.kind} ${e.checkId}`)).toEqual([`triggered tenant:cloudsync:${FABRIKAM}`]);

    // The list cannot be read for a while: nothing is retired, however long.
    await server!.close();
    const t1 = new Date(NOW.getTime() + 3_600_000);
    await cycle({ '/v1.0/servicePrincipals': (_q, res) => json(res, 500, {}) }, store, t1);
    expect((await evaluateAlerts(settings, store, channels, new Date(t1.getTime() + CONFIG_GRACE_MS))).retired).toEqual([]);

    // fabrikam.com moved to Connect Sync and its configuration was deleted.
    await server!.close();
    const t2 = new Date(NOW.getTime() + 2 * 3_600_000);
    await cycle({ ...twoDomains, '/v1.0/servicePrincipals': servicePrincipals([servicePrincipal(CONTOSO, 'contoso.com')]) }, store, t2);
    const pass = await evaluateAlerts(settings, store, channels, t2);
    expect(pass.retired).toEqual([`tenant:cloudsync:${FABRIKAM}`]);
    const retired = events.filter((e) => e.kind === 'retired');
    expect(retired.map((e) => e.checkId)).toEqual([`tenant:cloudsync:${FABRIKAM}`]);
    expect(retired[0]?.remediation.summary).toContain('its Cloud Sync configuration (or that provisioning job) no longer exists in the tenant');
    expect((await listChecks(store)).map((c) => c.id)).toContain(`tenant:cloudsync:${CONTOSO}`);
    expect((await listChecks(store)).map((c) => c.id)).not.toContain(`tenant:cloudsync:${FABRIKAM}`);
  });
});
