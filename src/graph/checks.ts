/**
 * Tenant checks through Microsoft Graph: licence, directory sync on and fresh, real writeback
 * failures from the directory audit log, and each Entra Cloud Sync configuration's provisioning
 * job; and which engines write back (Connect Sync, Cloud Sync). The evaluators are pure (Graph
 * answers in, check results out); `runTenantChecks` fetches and evaluates.
 * Failure codes: docs/probe-codes.md, "Tenant check codes".
 */
import type { CheckResult } from '../checks/state.js';
import { GraphError, GraphPermissionError, graphGet, type GraphGetOptions } from './client.js';
import {
  CLOUD_SYNC_TEMPLATE_ID,
  CONNECT_SYNC_APP_PREFIX,
  cloudSyncCheckId,
  cloudSyncPrincipals,
  connectSyncApps,
  connectSyncOf,
  evaluateCloudSyncJob,
  provisioningJobs,
  statusCode,
  type CloudSyncConfiguration,
  type ServicePrincipal,
  type TenantEngines,
} from './cloud-sync.js';
import { fail, ok } from './result.js';
import { evaluateWritebackAudit, type AuditCursor } from './writeback-audit.js';

export const TENANT_KIND = 'tenant';
export const TENANT_LOCATION = 'tenant';

/**
 * ok: the tenant is as it should be; failed: the tenant is not (a real finding);
 * misconfigured: the monitor lacks a Graph permission (code graph_permission), which says
 * nothing about the tenant; unknown: Graph could not be read (code graph_error).
 */
export type TenantCheckStatus = 'ok' | 'failed' | 'misconfigured' | 'unknown';

export interface TenantCheckOutcome {
  readonly id: string;
  readonly kind: typeof TENANT_KIND;
  readonly location: typeof TENANT_LOCATION;
  readonly target: string;
  readonly status: TenantCheckStatus;
  readonly result: CheckResult;
}

export const PATHS = {
  subscribedSkus: '/v1.0/subscribedSkus',
  organization: '/v1.0/organization?$select=onPremisesSyncEnabled,onPremisesLastSyncDateTime',
  directoryAudits: '/v1.0/auditLogs/directoryAudits',
  /** Cloud Sync configurations: service principals made from its application template. */
  cloudSyncPrincipals: `/v1.0/servicePrincipals?$filter=${encodeURIComponent(`applicationTemplateId eq '${CLOUD_SYNC_TEMPLATE_ID}'`)}&$select=id,displayName,applicationTemplateId`,
  /** The same, filtered here: for a Graph that refuses the filter (HTTP 400). */
  allPrincipals: '/v1.0/servicePrincipals?$select=id,displayName,applicationTemplateId&$top=999',
  connectSyncApps: `/v1.0/servicePrincipals?$filter=${encodeURIComponent(`startswith(displayName,'${CONNECT_SYNC_APP_PREFIX}')`)}&$select=id,displayName`,
  jobs: (servicePrincipalId: string) => `/v1.0/servicePrincipals/${servicePrincipalId}/synchronization/jobs`,
} as const;

const ENTRA_PLANS = ['AAD_PREMIUM', 'AAD_PREMIUM_P2'];

// ---- licence ----------------------------------------------------------------------------------

interface SubscribedSku {
  skuPartNumber?: string;
  capabilityStatus?: string;
  prepaidUnits?: { enabled?: number };
  servicePlans?: Array<{ servicePlanName?: string; provisioningStatus?: string }>;
}

/** ok when an enabled SKU with units has AAD_PREMIUM or AAD_PREMIUM_P2 provisioned. */
export function evaluateLicence(skus: readonly unknown[], startedAt: string): CheckResult {
  const list = skus as readonly SubscribedSku[];
  const good = list.find(
    (s) =>
      s.capabilityStatus === 'Enabled' &&
      (s.prepaidUnits?.enabled ?? 0) > 0 &&
      (s.servicePlans ?? []).some((p) => ENTRA_PLANS.includes(p.servicePlanName ?? '') && p.provisioningStatus === 'Success'),
  );
  if (good) return ok(startedAt);
  const seen = list.map((s) => `${s.skuPartNumber ?? '?'} (${s.capabilityStatus ?? '?'}, ${s.prepaidUnits?.enabled ?? 0} units)`);
  return fail(
    startedAt,
    'licence_missing',
    `no enabled subscription with units includes Entra ID P1 or P2 (AAD_PREMIUM, AAD_PREMIUM_P2) provisioned; subscriptions: ${seen.length ? seen.join(', ') : 'none'}`,
  );
}

// ---- directory sync ---------------------------------------------------------------------------

interface Organization {
  onPremisesSyncEnabled?: boolean | null;
  onPremisesLastSyncDateTime?: string | null;
}

export function evaluateSyncEnabled(org: unknown, startedAt: string): CheckResult {
  const value = (org as Organization).onPremisesSyncEnabled;
  if (value === true) return ok(startedAt);
  return fail(startedAt, 'sync_disabled', `directory synchronisation is off (onPremisesSyncEnabled is ${String(value ?? null)})`);
}

export function evaluateSyncFresh(org: unknown, now: Date, maxAgeMinutes: number, startedAt: string): CheckResult {
  const last = (org as Organization).onPremisesLastSyncDateTime;
  const at = typeof last === 'string' ? Date.parse(last) : NaN;
  if (Number.isNaN(at)) return fail(startedAt, 'sync_stale', 'the tenant has no last directory sync time (never synchronised)');
  const ageMinutes = Math.floor((now.getTime() - at) / 60_000);
  if (ageMinutes <= maxAgeMinutes) return ok(startedAt);
  return fail(startedAt, 'sync_stale', `last directory sync ${formatAge(ageMinutes)} ago (${last}), more than ${maxAgeMinutes} minutes`);
}

function formatAge(minutes: number): string {
  if (minutes < 120) return `${minutes} minutes`;
  const hours = Math.floor(minutes / 60);
  return hours < 48 ? `${hours} h ${minutes % 60} min` : `${Math.floor(hours / 24)} days`;
}

// ---- running them -----------------------------------------------------------------------------

export interface TenantCheckOptions {
  readonly baseUrl: string;
  readonly token: GraphGetOptions['token'];
  readonly now: Date;
  /** The cursor of the previous run; without one, the audit log is read from `now - auditLookbackMinutes`. */
  readonly lastAudit?: AuditCursor;
  readonly syncMaxAgeMinutes: number;
  /** Default 60. */
  readonly auditLookbackMinutes?: number;
  readonly timeoutMs?: number;
  readonly maxRetries?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  /** What the previous run learnt: its Cloud Sync configurations stand in when they cannot be read now. */
  readonly lastEngines?: TenantEngines;
}

export interface TenantCheckRun {
  readonly results: TenantCheckOutcome[];
  /** Pass back as `lastAudit` next run. Unchanged when the audit log could not be read. */
  readonly nextAudit: AuditCursor;
  /** Which engines write back, as far as this run could tell. */
  readonly engines: TenantEngines;
}

export async function runTenantChecks(options: TenantCheckOptions): Promise<TenantCheckRun> {
  const startedAt = options.now.toISOString();
  const graph: GraphGetOptions = {
    baseUrl: options.baseUrl,
    token: options.token,
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    ...(options.maxRetries === undefined ? {} : { maxRetries: options.maxRetries }),
    ...(options.sleep === undefined ? {} : { sleep: options.sleep }),
  };
  const base = options.baseUrl.replace(/\/+$/, '');
  const outcome = (id: string, path: string, result: CheckResult, status?: TenantCheckStatus): TenantCheckOutcome => ({
    id: `tenant:${id}`,
    kind: TENANT_KIND,
    location: TENANT_LOCATION,
    target: base + (path.split('?')[0] ?? path),
    status: status ?? (result.ok ? 'ok' : 'failed'),
    result,
  });
  const onError = (err: unknown): { result: CheckResult; status: TenantCheckStatus } =>
    err instanceof GraphPermissionError
      ? { result: fail(startedAt, 'graph_permission', err.message), status: 'misconfigured' }
      : { result: fail(startedAt, 'graph_error', err instanceof Error ? err.message : 'Microsoft Graph could not be read'), status: 'unknown' };

  const cursor: AuditCursor = options.lastAudit ?? { at: new Date(options.now.getTime() - (options.auditLookbackMinutes ?? 60) * 60_000).toISOString() };
  const filter = `loggedByService eq 'Self-service Password Management' and activityDateTime ge ${cursor.at}`;
  const auditPath = `${PATHS.directoryAudits}?$filter=${encodeURIComponent(filter)}`;

  const [skus, orgs, audits, cloud, apps] = await Promise.allSettled([
    graphGet(PATHS.subscribedSkus, graph),
    graphGet(PATHS.organization, graph),
    graphGet(auditPath, graph),
    readCloudSync(graph, options, startedAt),
    graphGet(PATHS.connectSyncApps, graph),
  ]);

  const results: TenantCheckOutcome[] = [];
  if (skus.status === 'fulfilled') results.push(outcome('licence', PATHS.subscribedSkus, evaluateLicence(skus.value, startedAt)));
  else {
    const e = onError(skus.reason);
    results.push(outcome('licence', PATHS.subscribedSkus, e.result, e.status));
  }

  const org = orgs.status === 'fulfilled' ? orgs.value[0] : undefined;
  if (org !== undefined) {
    results.push(outcome('sync-enabled', PATHS.organization, evaluateSyncEnabled(org, startedAt)));
    results.push(outcome('sync-fresh', PATHS.organization, evaluateSyncFresh(org, options.now, options.syncMaxAgeMinutes, startedAt)));
  } else {
    const e = orgs.status === 'rejected' ? onError(orgs.reason) : { result: fail(startedAt, 'graph_error', 'GET /v1.0/organization returned no organization'), status: 'unknown' as const };
    results.push(outcome('sync-enabled', PATHS.organization, e.result, e.status));
    results.push(outcome('sync-fresh', PATHS.organization, e.result, e.status));
  }

  let nextAudit = cursor;
  if (audits.status === 'fulfilled') {
    const evaluated = evaluateWritebackAudit(audits.value, cursor, options.now, startedAt);
    nextAudit = evaluated.next;
    results.push(outcome('writeback-failures', PATHS.directoryAudits, evaluated.result));
  } else {
    const e = onError(audits.reason);
    results.push(outcome('writeback-failures', PATHS.directoryAudits, e.result, e.status));
  }

  // readCloudSync answers for its own failures; it only rejects on a bug.
  const cloudSync: CloudSyncReading = cloud.status === 'fulfilled' ? cloud.value : { results: [], problem: describeError(cloud.reason) };
  const known = options.lastEngines?.cloudSync ?? [];
  if (cloudSync.configurations) results.push(...cloudSync.results);
  else {
    // The configurations could not be listed: the checks of those known from the last run say
    // so (a missing permission), or are left out (an outage).
    const e = onError(cloud.status === 'fulfilled' ? cloudSync.error : cloud.reason);
    for (const id of new Set(known.flatMap((c) => (c.checkId ? [c.checkId] : [])))) {
      const sp = known.find((c) => c.checkId === id)!;
      results.push({ id, kind: TENANT_KIND, location: TENANT_LOCATION, target: base + PATHS.jobs(sp.id), status: e.status, result: e.result });
    }
  }

  const syncEnabled = org === undefined ? undefined : ((org as Organization).onPremisesSyncEnabled ?? null);
  const { connectSync, basis } = connectSyncOf({
    syncEnabled,
    cloudSyncCount: cloudSync.configurations ? new Set(cloudSync.configurations.map((c) => c.id)).size : undefined,
    connectSyncApps: apps.status === 'fulfilled' ? connectSyncApps(apps.value) : undefined,
    agentsSeen: nextAudit.agentsSeen,
    now: options.now,
  });
  const engines: TenantEngines = {
    connectSync,
    connectSyncBasis: basis,
    cloudSync: cloudSync.configurations ?? options.lastEngines?.cloudSync ?? null,
    ...(!cloudSync.configurations && { cloudSyncProblem: cloudSync.problem ?? 'the Cloud Sync configurations could not be read' }),
    writebackAgentSeenAt: { connectSync: nextAudit.agentsSeen?.connectSync ?? null, cloudSync: nextAudit.agentsSeen?.cloudSync ?? null },
  };
  return { results, nextAudit, engines };
}

// ---- Cloud Sync ---------------------------------------------------------------------------------

interface CloudSyncReading {
  /** One per provisioning job, and one per configuration whose jobs could not be read. */
  readonly results: TenantCheckOutcome[];
  /** Undefined when the configurations could not be listed. */
  readonly configurations?: CloudSyncConfiguration[];
  readonly problem?: string;
  readonly error?: unknown;
}

function describeError(err: unknown): string {
  return err instanceof Error ? err.message : 'Microsoft Graph could not be read';
}

/** The Cloud Sync service principals: filtered by Graph, or, where Graph refuses that filter, here. */
async function listCloudSyncPrincipals(graph: GraphGetOptions): Promise<ServicePrincipal[]> {
  try {
    return cloudSyncPrincipals(await graphGet(PATHS.cloudSyncPrincipals, graph));
  } catch (err) {
    if (!(err instanceof GraphError && err.status === 400)) throw err;
    return cloudSyncPrincipals(await graphGet(PATHS.allPrincipals, graph));
  }
}

/** Every Cloud Sync configuration and the check of each provisioning job. Never rejects. */
async function readCloudSync(graph: GraphGetOptions, options: TenantCheckOptions, startedAt: string): Promise<CloudSyncReading> {
  const base = options.baseUrl.replace(/\/+$/, '');
  let principals: ServicePrincipal[];
  try {
    principals = await listCloudSyncPrincipals(graph);
  } catch (err) {
    return { results: [], problem: describeError(err), error: err };
  }
  const jobs = await Promise.allSettled(principals.map((sp) => graphGet(PATHS.jobs(sp.id), graph)));
  const results: TenantCheckOutcome[] = [];
  const configurations: CloudSyncConfiguration[] = [];
  principals.forEach((sp, i) => {
    const target = base + PATHS.jobs(sp.id);
    const read = jobs[i]!;
    const check = (id: string, result: CheckResult, status?: TenantCheckStatus) =>
      results.push({ id, kind: TENANT_KIND, location: TENANT_LOCATION, target, status: status ?? (result.ok ? 'ok' : 'failed'), result });
    if (read.status === 'rejected') {
      const id = cloudSyncCheckId(sp.id);
      const err = read.reason;
      if (err instanceof GraphPermissionError) check(id, fail(startedAt, 'graph_permission', err.message), 'misconfigured');
      else check(id, fail(startedAt, 'graph_error', describeError(err)), 'unknown');
      configurations.push({ id: sp.id, displayName: sp.displayName, jobId: null, state: null, checkId: id });
      return;
    }
    const provisioning = provisioningJobs(read.value);
    // Without a provisioning job the configuration synchronises nothing; nothing to watch.
    if (provisioning.length === 0) configurations.push({ id: sp.id, displayName: sp.displayName, jobId: null, state: null, checkId: null });
    for (const job of provisioning) {
      const id = cloudSyncCheckId(sp.id, provisioning.length > 1 ? job.id : undefined);
      check(id, evaluateCloudSyncJob(sp, job, options.now, options.syncMaxAgeMinutes, startedAt));
      configurations.push({ id: sp.id, displayName: sp.displayName, jobId: job.id!, state: statusCode(job) ?? null, checkId: id });
    }
  });
  return { results, configurations };
}
