/**
 * Entra Cloud Sync as Microsoft Graph shows it, and which engines write passwords back.
 *
 * A Cloud Sync configuration is a service principal made from the application template
 * `1a4721b3-e57f-4451-ae87-ef078703ec94` ("Active Directory to Azure Active Directory
 * Provisioning"; its `applicationTemplateId`, which `$filter` supports with `eq`), one per AD
 * domain, usually named after it. Its synchronization job with `templateId`
 * `AD2AADProvisioning` (id `AD2AADProvisioning.<hex>`) carries the configuration's health in
 * `status`: `code` (NotConfigured, NotRun, Active, Paused, Quarantine), `quarantine`
 * (`currentBegan`, `nextAttempt`, `reason`, `seriesBegan`, `error`), `lastExecution` and
 * `lastSuccessfulExecution` (`state` Succeeded, Failed or EntryLevelErrors, `timeBegan`,
 * `timeEnded`, `error` with `code` and `message`). Reading the jobs needs the application
 * permission Synchronization.Read.All (Graph v1.0 synchronization API reference, "List
 * synchronization jobs"; "How to programmatically configure cloud sync using MS Graph API").
 * Other jobs of the same service principal (AD2AADPasswordHash, Exchange hybrid writeback) are
 * not the configuration's health and are left out.
 *
 * Pure evaluators here; the reads are in src/graph/checks.ts.
 */
import type { CheckResult } from '../checks/state.js';
import { fail, ok } from './result.js';
import { quoted, tenantText } from './tenant-text.js';
import { AGENT_LABELS, type AuditCursor } from './writeback-audit.js';

export const CLOUD_SYNC_TEMPLATE_ID = '1a4721b3-e57f-4451-ae87-ef078703ec94';
export const PROVISIONING_TEMPLATE = 'AD2AADProvisioning';
/** Connect Sync's own application since 2.5.3.0 (application-based authentication): ConnectSyncProvisioning_<server>_<hex>. */
export const CONNECT_SYNC_APP_PREFIX = 'ConnectSyncProvisioning_';
/** An audit entry naming an engine counts as evidence that it writes back for this long. */
export const AGENT_EVIDENCE_DAYS = 30;

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** What job ids are made of ("AD2AADProvisioning.fc96887f36da47508c935c28a0c0b6da"). */
const JOB_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const STATUS_CODE = /^[A-Za-z]{1,40}$/;

export interface ServicePrincipal {
  readonly id: string;
  readonly displayName: string;
}

/** The service principals that are Cloud Sync configurations (a defensive client-side filter too). */
export function cloudSyncPrincipals(items: readonly unknown[]): ServicePrincipal[] {
  const out: ServicePrincipal[] = [];
  for (const item of items as ReadonlyArray<{ id?: unknown; displayName?: unknown; applicationTemplateId?: unknown }>) {
    if (typeof item?.id !== 'string' || !GUID.test(item.id)) continue;
    if (typeof item.applicationTemplateId !== 'string' || item.applicationTemplateId.toLowerCase() !== CLOUD_SYNC_TEMPLATE_ID) continue;
    out.push({ id: item.id.toLowerCase(), displayName: tenantText(item.displayName, 80) ?? item.id.toLowerCase() });
  }
  return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** How many service principals are Connect Sync applications (the display name's prefix, checked here too). */
export function connectSyncApps(items: readonly unknown[]): number {
  return (items as ReadonlyArray<{ displayName?: unknown }>).filter((i) => typeof i?.displayName === 'string' && i.displayName.startsWith(CONNECT_SYNC_APP_PREFIX)).length;
}

interface TaskExecution {
  state?: string | null;
  timeBegan?: string | null;
  timeEnded?: string | null;
  error?: { code?: string | null; message?: string | null } | null;
}
interface Quarantine {
  currentBegan?: string | null;
  seriesBegan?: string | null;
  nextAttempt?: string | null;
  reason?: string | null;
  error?: { code?: string | null; message?: string | null } | null;
}
export interface SynchronizationJob {
  id?: string;
  templateId?: string;
  schedule?: { interval?: string | null; state?: string | null } | null;
  status?: {
    code?: string | null;
    countSuccessiveCompleteFailures?: number | null;
    quarantine?: Quarantine | null;
    lastExecution?: TaskExecution | null;
    lastSuccessfulExecution?: TaskExecution | null;
  } | null;
}

/**
 * The configuration's provisioning jobs: `templateId` AD2AADProvisioning or, for answers that
 * leave the template out, an id of that template's form. Sorted by id, unusable ids dropped.
 */
export function provisioningJobs(jobs: readonly unknown[]): SynchronizationJob[] {
  return (jobs as readonly SynchronizationJob[])
    .filter((j) => typeof j?.id === 'string' && JOB_ID.test(j.id))
    .filter((j) => j.templateId === PROVISIONING_TEMPLATE || (typeof j.templateId !== 'string' && j.id!.startsWith(`${PROVISIONING_TEMPLATE}.`)))
    .sort((a, b) => (a.id! < b.id! ? -1 : a.id! > b.id! ? 1 : 0));
}

/** The job's status code when it is a plain word, else undefined. */
export function statusCode(job: SynchronizationJob): string | undefined {
  const code = job.status?.code;
  return typeof code === 'string' && STATUS_CODE.test(code) ? code : undefined;
}

const time = (value: unknown): number => (typeof value === 'string' ? Date.parse(value) : Number.NaN);
const ended = (run: TaskExecution | null | undefined): number => {
  const end = time(run?.timeEnded);
  return Number.isNaN(end) ? time(run?.timeBegan) : end;
};
const iso = (ms: number): string => new Date(ms).toISOString();

function errorText(error: { code?: string | null; message?: string | null } | null | undefined): string | undefined {
  const code = tenantText(error?.code, 80);
  const message = quoted(error?.message);
  if (code && message) return `${code}: ${message}`;
  return message ?? (code ? `error ${code}` : undefined);
}

function formatAge(minutes: number): string {
  if (minutes < 120) return `${minutes} minutes`;
  const hours = Math.floor(minutes / 60);
  return hours < 48 ? `${hours} h ${minutes % 60} min` : `${Math.floor(hours / 24)} days`;
}

/**
 * The newest run that completed: the last successful one, or the last one when it ended with
 * object-level errors only (EntryLevelErrors: it ran; the objects in error are in the
 * provisioning logs, and a tenant with a few such objects would otherwise never look fresh).
 */
function lastGoodRun(job: SynchronizationJob): number {
  const success = ended(job.status?.lastSuccessfulExecution);
  const last = job.status?.lastExecution;
  const lastOk = last?.state === 'Succeeded' || last?.state === 'EntryLevelErrors' ? ended(last) : Number.NaN;
  if (Number.isNaN(success)) return lastOk;
  return Number.isNaN(lastOk) ? success : Math.max(success, lastOk);
}

/**
 * One Cloud Sync configuration's provisioning job: down when it is quarantined, its last run
 * failed, it is paused or has never run, or its last good run is older than `maxAgeMinutes`.
 * The message names the configuration and quotes the job's own status text.
 */
export function evaluateCloudSyncJob(sp: ServicePrincipal, job: SynchronizationJob, now: Date, maxAgeMinutes: number, startedAt: string): CheckResult {
  const name = `Cloud Sync configuration ${sp.displayName}`;
  const code = statusCode(job);
  const status = job.status ?? {};
  const good = lastGoodRun(job);
  const sinceGood = Number.isNaN(good) ? 'no successful run yet' : `last successful run ${formatAge(Math.max(0, Math.floor((now.getTime() - good) / 60_000)))} ago (${iso(good)})`;

  const q = status.quarantine;
  if (code === 'Quarantine' || (q && !Number.isNaN(time(q.currentBegan ?? q.seriesBegan)))) {
    const began = time(q?.seriesBegan ?? q?.currentBegan);
    const next = time(q?.nextAttempt);
    const reason = tenantText(q?.reason, 80);
    const said = errorText(q?.error) ?? errorText(status.lastExecution?.error);
    const parts = [
      `${name} is in quarantine${Number.isNaN(began) ? '' : ` since ${iso(began)}`}${reason ? ` (reason ${reason})` : ''}`,
      ...(said ? [`the job says ${said}`] : []),
      ...(Number.isNaN(next) ? [] : [`next attempt ${iso(next)}`]),
      sinceGood,
    ];
    return fail(startedAt, 'cloudsync_quarantined', parts.join('; '));
  }
  const last = status.lastExecution;
  if (last?.state === 'Failed' && !(good >= ended(last))) {
    const at = ended(last);
    const failures = status.countSuccessiveCompleteFailures;
    const said = errorText(last.error);
    const parts = [
      `the last run of ${name} failed${Number.isNaN(at) ? '' : ` at ${iso(at)}`}${typeof failures === 'number' && failures > 1 ? ` (${failures} failed runs in a row)` : ''}`,
      ...(said ? [`the job says ${said}`] : []),
      sinceGood,
    ];
    return fail(startedAt, 'cloudsync_failed', parts.join('; '));
  }
  if (code === 'Paused') return fail(startedAt, 'cloudsync_paused', `${name} is paused (status Paused): it synchronises nothing until it is started again; ${sinceGood}`);
  if (code === 'NotRun' || code === 'NotConfigured') {
    return fail(startedAt, 'cloudsync_not_running', `${name} has not run (status ${code}): its provisioning job was never started or is not set up; ${sinceGood}`);
  }
  if (Number.isNaN(good)) return fail(startedAt, 'cloudsync_stale', `${name} has no successful run (status ${code ?? 'unknown'})`);
  const ageMinutes = Math.floor((now.getTime() - good) / 60_000);
  if (ageMinutes <= maxAgeMinutes) return ok(startedAt);
  return fail(startedAt, 'cloudsync_stale', `${sinceGood}, more than ${maxAgeMinutes} minutes (status ${code ?? 'unknown'}): ${name} is not synchronising`);
}

// ---- which engines ------------------------------------------------------------------------------

/** One Cloud Sync configuration in /api/status. */
export interface CloudSyncConfiguration {
  /** The configuration's service principal (object id). */
  readonly id: string;
  readonly displayName: string;
  /** Its provisioning job, or null when it has none or its jobs could not be read. */
  readonly jobId: string | null;
  /** The job's status code as Graph gives it (Active, Paused, Quarantine, NotRun, NotConfigured), or null. */
  readonly state: string | null;
  /** The check that watches it, or null when there is nothing to watch (no provisioning job). */
  readonly checkId: string | null;
}

export interface TenantEngines {
  /**
   * Whether Entra Connect Sync writes back for this tenant: false when directory sync is off;
   * true when it is on and Connect Sync shows (its application, or an audit entry naming it
   * within AGENT_EVIDENCE_DAYS) or no Cloud Sync configuration exists; null when Graph cannot
   * tell (Cloud Sync is configured and nothing shows Connect Sync, or a read failed).
   */
  readonly connectSync: boolean | null;
  /** Why connectSync is what it is, in words. */
  readonly connectSyncBasis: string;
  /** The Cloud Sync configurations, or null when they were never read. */
  readonly cloudSync: readonly CloudSyncConfiguration[] | null;
  /** Why the last read of the Cloud Sync configurations failed (the list is then the one read before). */
  readonly cloudSyncProblem?: string;
  /** The newest audit entry naming each engine as the one that wrote a password back (or tried to). */
  readonly writebackAgentSeenAt: { readonly connectSync: string | null; readonly cloudSync: string | null };
}

/** What the tenant run learnt, stored for /api/status (collection `tenant`, key `engines`). */
export interface TenantRecord {
  readonly checkedAt: string;
  readonly engines: TenantEngines;
}

export const TENANT_COLLECTION = 'tenant';
export const ENGINES_KEY = 'engines';

export function cloudSyncCheckId(servicePrincipalId: string, jobId?: string): string {
  return `tenant:cloudsync:${servicePrincipalId}${jobId ? `:${jobId}` : ''}`;
}

export interface EngineEvidence {
  /** organization.onPremisesSyncEnabled, or undefined when the organization could not be read. */
  readonly syncEnabled: boolean | null | undefined;
  /** Cloud Sync configurations, or undefined when they could not be read. */
  readonly cloudSyncCount: number | undefined;
  /** Connect Sync applications, or undefined when they could not be read. */
  readonly connectSyncApps: number | undefined;
  readonly agentsSeen: AuditCursor['agentsSeen'];
  readonly now: Date;
}

/** Whether Connect Sync writes back, and why we think so. Pure. */
export function connectSyncOf(e: EngineEvidence): { connectSync: boolean | null; basis: string } {
  if (e.syncEnabled === undefined) return { connectSync: null, basis: 'the organization could not be read' };
  if (e.syncEnabled !== true) return { connectSync: false, basis: `directory synchronisation is off (onPremisesSyncEnabled is ${String(e.syncEnabled)})` };
  const seen = e.agentsSeen?.connectSync;
  if (seen && e.now.getTime() - Date.parse(seen) <= AGENT_EVIDENCE_DAYS * 86_400_000) {
    return { connectSync: true, basis: `the audit log names ${AGENT_LABELS.connectSync} (Microsoft Entra Connect) as the agent of a password writeback at ${seen}` };
  }
  if (e.connectSyncApps !== undefined && e.connectSyncApps > 0) {
    return { connectSync: true, basis: `directory synchronisation is on and a Connect Sync application (${CONNECT_SYNC_APP_PREFIX}…) is registered` };
  }
  if (e.cloudSyncCount === 0) return { connectSync: true, basis: 'directory synchronisation is on and no Cloud Sync configuration exists' };
  if (e.cloudSyncCount === undefined) return { connectSync: null, basis: 'directory synchronisation is on; the Cloud Sync configurations could not be read' };
  return {
    connectSync: null,
    basis:
      'directory synchronisation is on and Cloud Sync is configured; no Connect Sync application and no writeback through Connect Sync in the audit log, so Graph cannot tell whether Connect Sync runs too (a Connect Sync server with a legacy sync account shows neither)',
  };
}
