/**
 * Which engines write back, and the health of each Entra Cloud Sync configuration, read from a
 * loopback Graph with fixtures shaped like Microsoft's documented answers.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { evaluateCloudSyncJob, type SynchronizationJob, type TenantEngines } from '../../src/graph/cloud-sync.js';
import { runTenantChecks, type TenantCheckRun } from '../../src/graph/checks.js';
import {
  auditWithAgent,
  forbidden,
  jobRoutes,
  json,
  organization,
  PROVISIONING_FIRST_PARTY,
  servicePrincipal,
  servicePrincipals,
  sku,
  startGraphServer,
  synchronizationJob,
  type GraphServer,
  type Handler,
} from './graph-server.js';

const NOW = new Date('2026-03-01T12:00:00.000Z');
const STARTED = NOW.toISOString();
const CONTOSO = 'c0a1b2c3-0000-4000-8000-000000000001';
const FABRIKAM = 'f0a1b2c3-0000-4000-8000-000000000002';
const CONNECT_APP = servicePrincipal('a0a1b2c3-0000-4000-8000-000000000003', 'ConnectSyncProvisioning_CS01_3ac06f5648e4', null);
const PASSWORD_HASH_JOB = synchronizationJob({ id: 'AD2AADPasswordHash.0a1b2c3d4e5f60718293a4b5c6d7e8f9', templateId: 'AD2AADPasswordHash' });

let server: GraphServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const base: Record<string, Handler> = {
  '/v1.0/subscribedSkus': (_q, res) => json(res, 200, { value: [sku('EMS', [['AAD_PREMIUM', 'Success']])] }),
  '/v1.0/organization': (_q, res) => json(res, 200, organization(true, '2026-03-01T11:50:00Z')),
  '/v1.0/auditLogs/directoryAudits': (_q, res) => json(res, 200, { value: [] }),
};

/** A tenant: its service principals, each configuration's jobs, anything else overridden. */
async function tenant(
  principals: ReturnType<typeof servicePrincipal>[],
  jobs: Record<string, unknown[] | Handler> = {},
  overrides: Record<string, Handler> = {},
  options: { lastEngines?: TenantEngines; refuseTemplateFilter?: boolean } = {},
): Promise<TenantCheckRun> {
  server = await startGraphServer({
    ...base,
    '/v1.0/servicePrincipals': servicePrincipals([PROVISIONING_FIRST_PARTY, ...principals], { ...(options.refuseTemplateFilter && { refuseTemplateFilter: true }) }),
    ...jobRoutes(jobs),
    ...overrides,
  });
  return runTenantChecks({
    baseUrl: server.baseUrl,
    token: async () => 'token',
    now: NOW,
    lastAudit: { at: '2026-03-01T11:00:00.000Z' },
    syncMaxAgeMinutes: 120,
    timeoutMs: 2000,
    ...(options.lastEngines && { lastEngines: options.lastEngines }),
  });
}

const ids = (r: TenantCheckRun) => r.results.map((x) => x.id);
const byId = (r: TenantCheckRun, id: string) => r.results.find((x) => x.id === id)!;
const STANDARD = ['tenant:licence', 'tenant:sync-enabled', 'tenant:sync-fresh', 'tenant:writeback-failures'];

describe('which engines write back', () => {
  it('a Connect-only tenant: directory sync on, no Cloud Sync configuration, Connect Sync shown by its application', async () => {
    const r = await tenant([CONNECT_APP]);
    expect(ids(r)).toEqual(STANDARD);
    expect(r.engines).toEqual({
      connectSync: true,
      connectSyncBasis: 'directory synchronisation is on and a Connect Sync application (ConnectSyncProvisioning_…) is registered',
      cloudSync: [],
      writebackAgentSeenAt: { connectSync: null, cloudSync: null },
    });
    // The first-party provisioning principal has the template's app id but no template: not a configuration.
    const asked = server!.requests.filter((q) => q.url.startsWith('/v1.0/servicePrincipals')).map((q) => decodeURIComponent(q.url));
    expect(asked).toContain("/v1.0/servicePrincipals?$filter=applicationTemplateId eq '1a4721b3-e57f-4451-ae87-ef078703ec94'&$select=id,displayName,applicationTemplateId");
    expect(asked).toContain("/v1.0/servicePrincipals?$filter=startswith(displayName,'ConnectSyncProvisioning_')&$select=id,displayName");
    expect(asked.filter((u) => u.includes('/synchronization/'))).toEqual([]);
  });

  it('a Connect-only tenant with a legacy sync account: still Connect Sync, because nothing else can sync', async () => {
    const r = await tenant([]);
    expect(r.engines.connectSync).toBe(true);
    expect(r.engines.connectSyncBasis).toBe('directory synchronisation is on and no Cloud Sync configuration exists');
  });

  it('a Cloud Sync-only tenant: its configuration listed with its job and check, Connect Sync not claimed', async () => {
    const r = await tenant([servicePrincipal(CONTOSO, 'contoso.com')], { [CONTOSO]: [synchronizationJob({}), PASSWORD_HASH_JOB] });
    expect(ids(r)).toEqual([...STANDARD, `tenant:cloudsync:${CONTOSO}`]);
    expect(byId(r, `tenant:cloudsync:${CONTOSO}`)).toMatchObject({
      kind: 'tenant',
      location: 'tenant',
      status: 'ok',
      target: `${server!.baseUrl}/v1.0/servicePrincipals/${CONTOSO}/synchronization/jobs`,
    });
    expect(r.engines.cloudSync).toEqual([
      { id: CONTOSO, displayName: 'contoso.com', jobId: 'AD2AADProvisioning.fc96887f36da47508c935c28a0c0b6da', state: 'Active', checkId: `tenant:cloudsync:${CONTOSO}` },
    ]);
    expect(r.engines.connectSync).toBeNull();
    expect(r.engines.connectSyncBasis).toContain('Graph cannot tell whether Connect Sync runs too');
  });

  it('a tenant with both, split by domain: Connect Sync shown by its application, each Cloud Sync domain its own check', async () => {
    const r = await tenant([servicePrincipal(CONTOSO, 'contoso.com'), servicePrincipal(FABRIKAM, 'fabrikam.com'), CONNECT_APP], {
      [CONTOSO]: [synchronizationJob({})],
      [FABRIKAM]: [synchronizationJob({ id: 'AD2AADProvisioning.0123456789abcdef0123456789abcdef' })],
    });
    expect(ids(r)).toEqual([...STANDARD, `tenant:cloudsync:${CONTOSO}`, `tenant:cloudsync:${FABRIKAM}`]);
    expect(r.engines.connectSync).toBe(true);
    expect(r.engines.cloudSync?.map((c) => [c.displayName, c.state])).toEqual([
      ['contoso.com', 'Active'],
      ['fabrikam.com', 'Active'],
    ]);
  });

  it('a tenant with both, told apart by the audit log: a writeback through Microsoft Entra Connect names Connect Sync', async () => {
    const r = await tenant([servicePrincipal(CONTOSO, 'contoso.com')], { [CONTOSO]: [synchronizationJob({})] }, {
      '/v1.0/auditLogs/directoryAudits': (_q, res) =>
        json(res, 200, {
          value: [
            auditWithAgent('2026-03-01T11:10:00Z', 'Reset password (by admin)', 'success', '', 'ann@contoso.com', 'Microsoft Entra Connect'),
            auditWithAgent('2026-03-01T11:20:00Z', 'Reset password (by admin)', 'success', '', 'bob@fabrikam.com', 'CloudSync'),
          ],
        }),
    });
    expect(r.engines.connectSync).toBe(true);
    expect(r.engines.connectSyncBasis).toBe(
      'the audit log names Connect Sync (Microsoft Entra Connect) as the agent of a password writeback at 2026-03-01T11:10:00.000Z',
    );
    expect(r.engines.writebackAgentSeenAt).toEqual({ connectSync: '2026-03-01T11:10:00.000Z', cloudSync: '2026-03-01T11:20:00.000Z' });
  });

  it('a tenant with directory sync off: no engine writes back', async () => {
    const r = await tenant([], {}, { '/v1.0/organization': (_q, res) => json(res, 200, organization(false, null)) });
    expect(r.engines.connectSync).toBe(false);
    expect(r.engines.connectSyncBasis).toBe('directory synchronisation is off (onPremisesSyncEnabled is false)');
  });

  it('filters the configurations itself when Graph refuses the template filter', async () => {
    const r = await tenant([servicePrincipal(CONTOSO, 'contoso.com'), servicePrincipal(FABRIKAM, 'Some SAML app', '8adf8e6e-67b2-4cf2-a259-e3dc5476c621')], {
      [CONTOSO]: [synchronizationJob({})],
    }, {}, { refuseTemplateFilter: true });
    expect(r.engines.cloudSync?.map((c) => c.id)).toEqual([CONTOSO]);
    expect(ids(r)).toEqual([...STANDARD, `tenant:cloudsync:${CONTOSO}`]);
    expect(server!.requests.some((q) => decodeURIComponent(q.url) === '/v1.0/servicePrincipals?$select=id,displayName,applicationTemplateId&$top=999')).toBe(true);
  });

  it('lists a configuration without a provisioning job, and watches nothing for it', async () => {
    const r = await tenant([servicePrincipal(CONTOSO, 'contoso.com')], { [CONTOSO]: [PASSWORD_HASH_JOB] });
    expect(ids(r)).toEqual(STANDARD);
    expect(r.engines.cloudSync).toEqual([{ id: CONTOSO, displayName: 'contoso.com', jobId: null, state: null, checkId: null }]);
  });

  it('gives each provisioning job its own check when a configuration has two', async () => {
    const second = 'AD2AADProvisioning.ffffffffffffffffffffffffffffffff';
    const r = await tenant([servicePrincipal(CONTOSO, 'contoso.com')], { [CONTOSO]: [synchronizationJob({}), synchronizationJob({ id: second, code: 'Paused' })] });
    expect(ids(r).slice(STANDARD.length)).toEqual([
      `tenant:cloudsync:${CONTOSO}:AD2AADProvisioning.fc96887f36da47508c935c28a0c0b6da`,
      `tenant:cloudsync:${CONTOSO}:${second}`,
    ]);
    expect(byId(r, `tenant:cloudsync:${CONTOSO}:${second}`).result.failure?.code).toBe('cloudsync_paused');
  });
});

describe('the check of a Cloud Sync configuration', () => {
  it('is up for a healthy job that ran two minutes ago', async () => {
    const r = await tenant([servicePrincipal(CONTOSO, 'contoso.com')], { [CONTOSO]: [synchronizationJob({})] });
    expect(byId(r, `tenant:cloudsync:${CONTOSO}`).result).toEqual({ ok: true, startedAt: STARTED });
  });

  it("is down for a quarantined job, quoting the job's own reason and error", async () => {
    const job = synchronizationJob({
      code: 'Quarantine',
      lastSuccess: '2026-03-01T07:00:00Z',
      last: { state: 'Failed', timeBegan: '2026-03-01T11:40:00Z', error: { code: 'HybridSynchronizationActiveDirectoryInvalidCredentials', message: 'The agent could not bind to contoso.com.' } },
      quarantine: {
        seriesBegan: '2026-03-01T08:00:00Z',
        nextAttempt: '2026-03-01T12:40:00Z',
        reason: 'EncounteredQuarantineException',
        error: { code: 'HybridSynchronizationActiveDirectoryInvalidCredentials', message: 'Unable to connect to the on-premises Active Directory: all agents are inactive.' },
      },
    });
    const r = await tenant([servicePrincipal(CONTOSO, 'contoso.com')], { [CONTOSO]: [job] });
    const c = byId(r, `tenant:cloudsync:${CONTOSO}`);
    expect(c.status).toBe('failed');
    expect(c.result.failure).toEqual({
      code: 'cloudsync_quarantined',
      phase: 'graph',
      message:
        'Cloud Sync configuration contoso.com is in quarantine since 2026-03-01T08:00:00.000Z (reason EncounteredQuarantineException); ' +
        'the job says HybridSynchronizationActiveDirectoryInvalidCredentials: “Unable to connect to the on-premises Active Directory: all agents are inactive.”; ' +
        'next attempt 2026-03-01T12:40:00.000Z; last successful run 5 h 0 min ago (2026-03-01T07:00:00.000Z)',
    });
    expect(r.engines.cloudSync?.[0]?.state).toBe('Quarantine');
  });

  it('is down for a stale job whose last successful run is older than WBMON_SYNC_MAX_AGE_MINUTES', async () => {
    const r = await tenant([servicePrincipal(CONTOSO, 'contoso.com')], { [CONTOSO]: [synchronizationJob({ lastSuccess: '2026-03-01T09:59:00Z' })] });
    expect(byId(r, `tenant:cloudsync:${CONTOSO}`).result.failure).toEqual({
      code: 'cloudsync_stale',
      phase: 'graph',
      message: 'last successful run 2 h 1 min ago (2026-03-01T09:59:00.000Z), more than 120 minutes (status Active): Cloud Sync configuration contoso.com is not synchronising',
    });
  });

  it('names Synchronization.Read.All when Graph refuses the jobs (403): misconfigured, not down', async () => {
    const r = await tenant([servicePrincipal(CONTOSO, 'contoso.com')], { [CONTOSO]: forbidden });
    const c = byId(r, `tenant:cloudsync:${CONTOSO}`);
    expect(c.status).toBe('misconfigured');
    expect(c.result.failure?.code).toBe('graph_permission');
    expect(c.result.failure?.message).toBe(
      `Microsoft Graph refused GET /v1.0/servicePrincipals/${CONTOSO}/synchronization/jobs (HTTP 403 Authorization_RequestDenied): grant the application permission Synchronization.Read.All`,
    );
    expect(r.engines.cloudSync).toEqual([{ id: CONTOSO, displayName: 'contoso.com', jobId: null, state: null, checkId: `tenant:cloudsync:${CONTOSO}` }]);
    expect(STANDARD.map((id) => byId(r, id).status)).toEqual(['ok', 'ok', 'ok', 'ok']);
  });

  it('leaves a job Graph could not answer unrecorded (unknown), not down', async () => {
    const r = await tenant([servicePrincipal(CONTOSO, 'contoso.com')], { [CONTOSO]: (_q, res) => json(res, 500, { error: { code: 'InternalServerError', message: 'boom' } }) });
    expect(byId(r, `tenant:cloudsync:${CONTOSO}`)).toMatchObject({ status: 'unknown', result: { failure: { code: 'graph_error' } } });
  });

  it('marks the known configurations misconfigured when the configurations cannot be listed (403), keeping the last list', async () => {
    const lastEngines: TenantEngines = {
      connectSync: null,
      connectSyncBasis: 'x',
      cloudSync: [{ id: CONTOSO, displayName: 'contoso.com', jobId: 'AD2AADProvisioning.fc96887f36da47508c935c28a0c0b6da', state: 'Active', checkId: `tenant:cloudsync:${CONTOSO}` }],
      writebackAgentSeenAt: { connectSync: null, cloudSync: null },
    };
    const r = await tenant([], {}, { '/v1.0/servicePrincipals': forbidden }, { lastEngines });
    const c = byId(r, `tenant:cloudsync:${CONTOSO}`);
    expect(c).toMatchObject({ status: 'misconfigured', target: `${server!.baseUrl}/v1.0/servicePrincipals/${CONTOSO}/synchronization/jobs` });
    expect(c.result.failure?.message).toContain('grant the application permission Directory.Read.All');
    expect(r.engines.cloudSync).toEqual(lastEngines.cloudSync);
    expect(r.engines.cloudSyncProblem).toContain('HTTP 403');
    expect(r.engines.connectSync).toBeNull();
  });

  it("cleans the tenant's own text: no controls or bidi in names and errors, user names masked, long errors cut", async () => {
    const job = synchronizationJob({
      last: { state: 'Failed', timeBegan: '2026-03-01T11:58:00Z', error: { code: 'Bad\ncode', message: `User jane.doe@contoso.com\u202e failed\r\n\u001b[31m${'x'.repeat(400)}` } },
      lastSuccess: '2026-03-01T11:00:00Z',
      failures: 3,
    });
    const r = await tenant([servicePrincipal(CONTOSO, 'contoso.com\u202e\n\u0007evil')], { [CONTOSO]: [job] });
    const message = byId(r, `tenant:cloudsync:${CONTOSO}`).result.failure!.message;
    expect(message).toMatch(/^the last run of Cloud Sync configuration contoso\.com evil failed at 2026-03-01T11:58:00\.000Z \(3 failed runs in a row\); the job says Bad code: “User j\*\*\*@contoso\.com failed x+…”; last successful run 60 minutes ago/);
    expect(message).not.toMatch(/[\u0000-\u001f\u202e]/);
    expect(message).not.toContain('jane');
    expect(r.engines.cloudSync?.[0]?.displayName).toBe('contoso.com evil');
  });
});

describe('evaluateCloudSyncJob', () => {
  const sp = { id: CONTOSO, displayName: 'contoso.com' };
  const evaluate = (job: SynchronizationJob, maxAge = 120) => evaluateCloudSyncJob(sp, job, NOW, maxAge, STARTED);

  it('says so when a configuration is paused or has never run', () => {
    expect(evaluate(synchronizationJob({ code: 'Paused' })).failure).toMatchObject({
      code: 'cloudsync_paused',
      message: 'Cloud Sync configuration contoso.com is paused (status Paused): it synchronises nothing until it is started again; last successful run 2 minutes ago (2026-03-01T11:58:00.000Z)',
    });
    expect(evaluate(synchronizationJob({ code: 'NotRun', lastSuccess: null })).failure).toMatchObject({
      code: 'cloudsync_not_running',
      message: 'Cloud Sync configuration contoso.com has not run (status NotRun): its provisioning job was never started or is not set up; no successful run yet',
    });
  });

  it('counts a run that ended with object-level errors as a run, so a few bad objects do not make it stale', () => {
    const job = synchronizationJob({ lastSuccess: '2026-02-27T12:00:00Z', last: { state: 'EntryLevelErrors', timeBegan: '2026-03-01T11:56:00Z' } });
    expect(evaluate(job).ok).toBe(true);
  });

  it('takes the limit as inclusive, to the minute', () => {
    const job = synchronizationJob({ lastSuccess: '2026-03-01T10:00:00Z' });
    expect(evaluate(job, 120).ok).toBe(true);
    expect(evaluate(job, 119).failure?.code).toBe('cloudsync_stale');
  });

  it('is down for an Active job that never succeeded', () => {
    expect(evaluate(synchronizationJob({ lastSuccess: null, last: null })).failure).toMatchObject({
      code: 'cloudsync_stale',
      message: 'Cloud Sync configuration contoso.com has no successful run (status Active)',
    });
  });

  it('does not hold a failed run against a job that succeeded after it', () => {
    const recovered = synchronizationJob({ lastSuccess: '2026-03-01T11:59:00Z', last: { state: 'Failed', timeBegan: '2026-03-01T11:50:00Z' } });
    expect(evaluate(recovered).ok).toBe(true);
  });
});
