import { afterEach, describe, expect, it } from 'vitest';
import { runTenantChecks, type TenantCheckRun } from '../../src/graph/checks.js';
import { maskUser } from '../../src/checks/mask.js';
import { audit, forbidden, json, organization, servicePrincipals, sku, startGraphServer, type GraphServer, type Handler } from './graph-server.js';

const TOKEN = 'tenant-secret-token';
const NOW = new Date('2026-03-01T12:00:00.000Z');
const CURSOR = '2026-03-01T11:00:00.000Z';
let server: GraphServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const healthy: Record<string, Handler> = {
  '/v1.0/subscribedSkus': (_q, res) =>
    json(res, 200, { value: [sku('ENTERPRISEPACK', [['EXCHANGE_S_ENTERPRISE', 'Success']]), sku('EMS', [['AAD_PREMIUM', 'Success'], ['INTUNE_A', 'Success']])] }),
  '/v1.0/organization': (_q, res) => json(res, 200, organization(true, '2026-03-01T11:30:00Z')),
  '/v1.0/auditLogs/directoryAudits': (_q, res) =>
    json(res, 200, { value: [audit('2026-03-01T11:20:00Z', 'Reset password (self-service)', 'success', '', 'jane@contoso.com')] }),
  '/v1.0/servicePrincipals': servicePrincipals([]),
};

async function run(overrides: Record<string, Handler> = {}): Promise<TenantCheckRun> {
  server = await startGraphServer({ ...healthy, ...overrides });
  return runTenantChecks({ baseUrl: server.baseUrl, token: async () => TOKEN, now: NOW, lastAudit: { at: CURSOR }, syncMaxAgeMinutes: 120, timeoutMs: 2000 });
}

const byId = (r: TenantCheckRun, id: string) => r.results.find((x) => x.id === `tenant:${id}`)!;

describe('the tenant checks', () => {
  it('are all ok for a licensed tenant that syncs and writes back', async () => {
    const r = await run();
    expect(r.results.map((x) => [x.id, x.status, x.result.ok])).toEqual([
      ['tenant:licence', 'ok', true],
      ['tenant:sync-enabled', 'ok', true],
      ['tenant:sync-fresh', 'ok', true],
      ['tenant:writeback-failures', 'ok', true],
    ]);
    expect(r.results.every((x) => x.kind === 'tenant' && x.location === 'tenant')).toBe(true);
    expect(byId(r, 'licence').target).toBe(`${server!.baseUrl}/v1.0/subscribedSkus`);
    expect(r.nextAudit).toEqual({ at: '2026-03-01T11:20:00.000Z' });
    expect(server!.requests.every((q) => q.authorization === `Bearer ${TOKEN}`)).toBe(true);
  });

  it('query the audit log for Self-service Password Management since the cursor', async () => {
    await run();
    const q = server!.requests.find((x) => x.url.startsWith('/v1.0/auditLogs/'))!;
    const filter = new URL(q.url, 'http://x').searchParams.get('$filter');
    expect(filter).toBe(`loggedByService eq 'Self-service Password Management' and activityDateTime ge ${CURSOR}`);
  });

  it('report licence_missing when no enabled subscription with units has an Entra P1 or P2 plan', async () => {
    const r = await run({
      '/v1.0/subscribedSkus': (_q, res) =>
        json(res, 200, {
          value: [
            sku('EMS', [['AAD_PREMIUM', 'Success']], 25, 'Suspended'),
            sku('AAD_PREMIUM_P2', [['AAD_PREMIUM_P2', 'Success']], 0),
            sku('SPE_E3', [['AAD_PREMIUM', 'Disabled']]),
          ],
        }),
    });
    const c = byId(r, 'licence');
    expect(c.status).toBe('failed');
    expect(c.result.failure).toMatchObject({ code: 'licence_missing', phase: 'graph' });
  });

  it('report sync_disabled when directory sync is off', async () => {
    const r = await run({ '/v1.0/organization': (_q, res) => json(res, 200, organization(null, '2026-03-01T11:30:00Z')) });
    expect(byId(r, 'sync-enabled').result.failure?.code).toBe('sync_disabled');
    expect(byId(r, 'sync-fresh').result.ok).toBe(true);
  });

  it('report sync_stale with the age when the last sync is older than the maximum', async () => {
    const r = await run({ '/v1.0/organization': (_q, res) => json(res, 200, organization(true, '2026-03-01T07:00:00Z')) });
    const c = byId(r, 'sync-fresh');
    expect(c.result.failure?.code).toBe('sync_stale');
    expect(c.result.failure?.message).toContain('5 h 0 min ago');
  });

  it('report writeback_failures counted by on-prem reason with user names masked', async () => {
    const r = await run({
      '/v1.0/auditLogs/directoryAudits': (_q, res) =>
        json(res, 200, {
          value: [
            audit('2026-03-01T11:50:00Z', 'Reset password (self-service)', 'failure', 'OnPremisesConnectivityFailure', 'jane@contoso.com'),
            audit('2026-03-01T11:40:00Z', 'Change password (self-service)', 'failure', 'Unable to connect to the on-premises service', 'bob@contoso.com'),
            audit('2026-03-01T11:30:00Z', 'Reset password (self-service)', 'failure', 'OnPremisesAdminActionRequired', 'carol@contoso.com'),
            audit('2026-03-01T11:25:00Z', 'Reset password (self-service)', 'failure', 'User entered an incorrect verification code', 'dave@contoso.com'),
            audit('2026-03-01T11:15:00Z', 'Security info registered for self-service password reset', 'failure', 'OnPremisesConnectivityFailure', 'erin@contoso.com'),
          ],
        }),
    });
    const c = byId(r, 'writeback-failures');
    expect(c.status).toBe('failed');
    expect(c.result.failure?.code).toBe('writeback_failures');
    const message = c.result.failure!.message;
    expect(message).toContain('3 password writeback failures');
    expect(message).toContain('on-premises connectivity: 2 (j***@contoso.com, b***@contoso.com)');
    expect(message).toContain('on-premises admin action required: 1 (c***@contoso.com)');
    expect(message).not.toMatch(/jane|bob|carol|dave|erin/);
    expect(r.nextAudit).toEqual({ at: '2026-03-01T11:50:00.000Z' });
  });

  it('move the audit cursor to now when the audit log has nothing new', async () => {
    const r = await run({ '/v1.0/auditLogs/directoryAudits': (_q, res) => json(res, 200, { value: [] }) });
    expect(byId(r, 'writeback-failures').result.ok).toBe(true);
    expect(r.nextAudit).toEqual({ at: NOW.toISOString() });
  });

  it('mark the writeback check misconfigured with AuditLog.Read.All and Directory.Read.All on a 403, not as an outage', async () => {
    const r = await run({ '/v1.0/auditLogs/directoryAudits': forbidden });
    const c = byId(r, 'writeback-failures');
    expect(c.status).toBe('misconfigured');
    expect(c.result.failure?.code).toBe('graph_permission');
    expect(c.result.failure?.message).toContain('grant the application permission AuditLog.Read.All and Directory.Read.All');
    expect(c.result.failure?.message).not.toContain(TOKEN);
    expect(r.nextAudit).toEqual({ at: CURSOR });
    expect(byId(r, 'licence').status).toBe('ok');
  });

  it('mark licence and sync checks misconfigured with Organization.Read.All on a 403', async () => {
    const r = await run({ '/v1.0/subscribedSkus': forbidden, '/v1.0/organization': forbidden });
    for (const id of ['licence', 'sync-enabled', 'sync-fresh']) {
      expect(byId(r, id).status).toBe('misconfigured');
      expect(byId(r, id).result.failure?.message).toContain('Organization.Read.All');
    }
  });

  it('mark a check unknown with graph_error when Graph answers malformed JSON', async () => {
    const r = await run({
      '/v1.0/organization': (_q, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('<html>gateway</html>');
      },
    });
    expect(byId(r, 'sync-enabled').status).toBe('unknown');
    expect(byId(r, 'sync-enabled').result.failure?.code).toBe('graph_error');
  });

  it('mask user names keeping the first letter and the domain', () => {
    expect(maskUser('jane.doe@contoso.com')).toBe('j***@contoso.com');
    expect(maskUser('CONTOSO\\jane')).toBe('C***');
    expect(maskUser(null)).toBe('unknown user');
  });
});
