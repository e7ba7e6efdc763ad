/**
 * The tenant checks' timer run: Microsoft Graph read app-only, each check's result into the
 * same check pipeline as every other, at location `tenant`. The audit-log cursor lives in the
 * store so each run reads only what is new.
 *
 * A check Graph could not answer (an outage, a timeout) is logged and left out: the tenant did
 * not fail, the reading did. A missing permission is recorded as a failure with code
 * `graph_permission`, whose alert names the permission to grant: misconfigured, not down.
 *
 * What the run learnt about the engines that write back (Connect Sync, the Cloud Sync
 * configurations) is stored too (collection `tenant`, key `engines`): /api/status shows it, and
 * the alerting pass retires the check of a Cloud Sync configuration that is gone.
 */
import { historyRecorder, type HistorySetting } from '../history/recorder.js';
import type { Settings } from '../config/settings.js';
import type { Transition } from '../checks/state.js';
import { runTenantChecks } from '../graph/checks.js';
import type { AuditCursor } from '../graph/writeback-audit.js';
import { ENGINES_KEY, TENANT_COLLECTION, type TenantRecord } from '../graph/cloud-sync.js';
import type { GraphGetOptions } from '../graph/client.js';
import { StoreConflictError, type Store } from '../store/store.js';
import { recordResult } from './checks-repository.js';
import type { ResultObserver } from './probe-cycle.js';

const CURSORS = 'cursors';
const AUDIT_CURSOR = 'tenant-audit';

export interface TenantCycle {
  readonly recorded: number;
  readonly unknown: string[];
  readonly transitions: Transition[];
}

export async function runTenantCycle(
  settings: Settings,
  store: Store,
  token: GraphGetOptions['token'],
  now: Date,
  io: { observe?: ResultObserver; log?: (line: string) => void; history?: HistorySetting } = {},
): Promise<TenantCycle> {
  const history = historyRecorder(store, settings, io.history, io.log);
  const [cursor, stored] = await Promise.all([store.get<AuditCursor>(CURSORS, AUDIT_CURSOR), store.get<TenantRecord>(TENANT_COLLECTION, ENGINES_KEY)]);
  const run = await runTenantChecks({
    baseUrl: settings.tenant.graphUrl,
    token,
    now,
    syncMaxAgeMinutes: settings.tenant.syncMaxAgeMinutes,
    ...(cursor && { lastAudit: cursor.value }),
    ...(stored?.value.engines && { lastEngines: stored.value.engines }),
  });
  // A tenant reading is definitive (a licence is missing, an hour of users' resets failed): one
  // failed reading is enough, where a probe needs WBMON_FAILURE_THRESHOLD to ride out a blip.
  // Coming back still takes WBMON_SUCCESS_THRESHOLD clean readings.
  const thresholds = { failure: 1, success: settings.successThreshold };
  const transitions: Transition[] = [];
  const unknown: string[] = [];
  let recorded = 0;
  try {
    for (const outcome of run.results) {
      if (outcome.status === 'unknown') {
        unknown.push(outcome.id);
        io.log?.(`${outcome.id}: not recorded, Graph could not be read: ${outcome.result.failure?.message ?? 'unknown'}`);
        continue;
      }
      const identity = { id: outcome.id, kind: 'tenant' as const, target: outcome.target, location: outcome.location };
      io.observe?.(identity, outcome.result);
      const { transition } = await recordResult(store, identity, outcome.result, thresholds, now, { history });
      if (transition) transitions.push(transition);
      recorded++;
    }
  } finally {
    // What was recorded before a failure keeps its history.
    if (history) await history.flush(now);
  }
  await save(store, CURSORS, AUDIT_CURSOR, cursor?.etag, run.nextAudit);
  const record: TenantRecord = { checkedAt: now.toISOString(), engines: run.engines };
  await save(store, TENANT_COLLECTION, ENGINES_KEY, stored?.etag, record);
  return { recorded, unknown, transitions };
}

async function save<T>(store: Store, collection: string, key: string, etag: string | undefined, next: T): Promise<void> {
  try {
    if (etag) await store.replace(collection, key, next, etag);
    else await store.insert(collection, key, next);
  } catch (err) {
    // Another run wrote it at the same time; its value is as good as ours.
    if (!(err instanceof StoreConflictError)) throw err;
  }
}
