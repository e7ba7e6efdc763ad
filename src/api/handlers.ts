/**
 * The HTTP API, independent of the host: Azure Functions (functions/*.ts) and `serve`
 * (src/local/http-server.ts) both map requests to these and send back exactly what they return,
 * so the two can never drift apart.
 */
import { PENDING_KEY, ROUNDTRIP, roundtripCheckId, type RoundtripPending } from '../roundtrip/check.js';
import type { CheckRecord } from '../checks/state.js';
import { cloudCheckId } from '../monitor/probe-cycle.js';
import { listChecks } from '../monitor/checks-repository.js';
import type { RelayMap } from '../config/relays.js';
import type { RelayProblems } from '../config/settings.js';
import { inMaintenance, type MaintenanceWindow } from '../alerting/maintenance.js';
import { heartbeatCheck } from '../monitor/evaluate-heartbeats.js';
import { relayState, relayStateSince, type RelayState } from '../heartbeat/freshness.js';
import { advanceRecord, HEARTBEATS, RELAYS, type RelayRecord, type StoredHeartbeat } from '../heartbeat/ingest.js';
import type { Store } from '../store/store.js';
import { isStale } from '../monitor/retirement.js';
import { stripControlsDeep } from '../text/safe-text.js';
import { ENGINES_KEY, TENANT_COLLECTION, type TenantEngines, type TenantRecord } from '../graph/cloud-sync.js';

/**
 * JSON unless `contentType` is given: then `body` is the text sent as it is (the status page,
 * a badge, the Prometheus exposition). `headers` are added to what the host always sends.
 */
export interface ApiResponse {
  readonly status: number;
  readonly body: unknown;
  readonly contentType?: string;
  readonly headers?: Readonly<Record<string, string>>;
}

export function health(): ApiResponse {
  return { status: 200, body: { ok: true } };
}

export interface StatusEntry {
  id: string;
  kind: string;
  target: string;
  location: string | null;
  state: string;
  since: string | null;
  lastResult: CheckRecord['lastResult'] | null;
  /** A relay's reported check while that relay is late or down: its state is as last reported, not current. */
  stale?: true;
}

/**
 * Every check the store knows, plus configured targets not probed yet (state `new`), so a user
 * sees at once that a target is configured even before its first cycle.
 */
export interface RelayStatus {
  /** The relay id; `id`, `kind`, `target`, `state` and `since` are shaped like a check's. */
  id: string;
  kind: 'relay';
  /** The host the relay runs on, as it reported it. */
  target: string | null;
  relayId: string;
  /** Derived from the last heartbeat, the period and grace, and the clock; never stored. */
  state: RelayState | 'paused';
  since: string | null;
  lastHeartbeatAt: string | null;
  lastSequence: number | null;
  host: string | null;
  agentVersion: string | null;
  /** The relay's on-disk backlog as it last reported it. */
  buffer: { pending: number; dropped: number } | null;
  /** The proxy the relay used (`url`, null when direct) and where it came from (`source`). */
  proxy: RelayRecord['proxy'] | null;
  /** The last idle-keepalive test: passed or not, and each idle length's outcome. */
  lastKeepalive: RelayRecord['lastKeepalive'] | null;
  periodSeconds: number;
  graceSeconds: number;
}

/**
 * What the last tenant run learnt (null before the first, or without tenant checks): which
 * engines write passwords back. `engines.cloudSync` lists each Cloud Sync configuration with the
 * check that watches it.
 */
export interface TenantStatus {
  checkedAt: string;
  engines: TenantEngines;
}

/**
 * The round trip while WBMON_ROUNDTRIP_USER is set (null when off): a reset the cloud accepted
 * and no relay confirmed yet is `pending` (its check keeps its last result until then).
 */
export interface RoundtripStatus {
  checkId: string;
  pending: { requestedAt: string; finishedAt: string; operationId: string } | null;
}

/**
 * `paused`: inside a maintenance window, the check still runs and records transitions but tells
 * nobody; shown instead of its state so nobody mistakes silence for health.
 */
export async function status(
  store: Store,
  targets: readonly string[],
  relays: RelayMap,
  now: Date,
  maintenance: readonly MaintenanceWindow[] = [],
  relayProblems: RelayProblems = { invalid: new Map() },
  roundtripUser?: string,
): Promise<ApiResponse> {
  let checks: CheckRecord[];
  let records: Map<string, RelayRecord>;
  let tenant: TenantStatus | null;
  let roundtrip: RoundtripStatus | null = null;
  try {
    const [stored, relayEntries, tenantRecord, pending] = await Promise.all([
      listChecks(store),
      store.list<RelayRecord>(RELAYS),
      store.get<TenantRecord>(TENANT_COLLECTION, ENGINES_KEY),
      roundtripUser ? store.get<RoundtripPending>(ROUNDTRIP, PENDING_KEY) : undefined,
    ]);
    if (roundtripUser) {
      const p = pending?.value.userId === roundtripUser ? pending.value : undefined;
      roundtrip = { checkId: roundtripCheckId(roundtripUser), pending: p ? { requestedAt: p.requestedAt, finishedAt: p.finishedAt, operationId: p.operationId } : null };
    }
    checks = stored;
    records = new Map(relayEntries.map((e) => [e.key, e.value]));
    tenant = tenantRecord ? { checkedAt: tenantRecord.value.checkedAt, engines: tenantRecord.value.engines } : null;
  } catch (err) {
    return unavailable(`AzureWebJobsStorage: state store not reachable (${(err as Error).message})`);
  }
  const known = new Set(checks.map((c) => c.id));
  const entries: StatusEntry[] = checks.map((c) => ({
    id: c.id,
    kind: c.kind,
    target: c.target,
    location: c.location,
    state: inMaintenance(maintenance, c.id, now) ? 'paused' : c.state,
    since: c.since,
    lastResult: c.lastResult ?? null,
  }));
  for (const target of targets) {
    const id = cloudCheckId(target);
    if (!known.has(id)) entries.push({ id, kind: 'probe', target, location: null, state: 'new', since: null, lastResult: null });
  }
  entries.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  // Configured relays only: a relay removed from WBMON_RELAYS no longer counts.
  const relayList: RelayStatus[] = [];
  for (const [relayId, config] of relays) {
    let r = records.get(relayId);
    // The record moves on at each evaluation; a heartbeat accepted since then is newer.
    // Looked for only when the record alone would not say `up`, so a healthy fleet costs nothing.
    if (relayState(r?.lastHeartbeatAt, config, now) !== 'up') {
      try {
        for (const { value } of await store.list<StoredHeartbeat>(HEARTBEATS, { prefix: `${relayId}|` })) {
          if (value.sequence > (r?.lastSequence ?? -1)) r = advanceRecord(r, value);
        }
      } catch (err) {
        return unavailable(`AzureWebJobsStorage: state store not reachable (${(err as Error).message})`);
      }
    }
    relayList.push({
      id: relayId,
      kind: 'relay',
      target: r?.host ?? null,
      relayId,
      state: inMaintenance(maintenance, heartbeatCheck(relayId).id, now) ? 'paused' : relayState(r?.lastHeartbeatAt, config, now),
      since: relayStateSince(r?.lastHeartbeatAt, config, now),
      lastHeartbeatAt: r?.lastHeartbeatAt ?? null,
      lastSequence: r?.lastSequence ?? null,
      host: r?.host ?? null,
      agentVersion: r?.agentVersion ?? null,
      buffer: r?.buffer ?? null,
      proxy: r?.proxy ?? null,
      lastKeepalive: r?.lastKeepalive ?? null,
      periodSeconds: config.periodSeconds,
      graceSeconds: config.graceSeconds,
    });
  }
  const relayStates = new Map(relayList.map((r) => [r.relayId, r.state]));
  // Disabled for a wrong WBMON_RELAYS entry (under Functions): shown, with what is wrong.
  const misconfigured = [...relayProblems.invalid].map(([relayId, problems]) => ({ id: relayId, kind: 'relay' as const, relayId, state: 'down' as const, problems }));
  const settingsProblems = relayProblems.unusable ? { settingsProblems: [`WBMON_RELAYS: ${relayProblems.unusable}`] } : {};
  for (const entry of entries) if (isStale({ kind: entry.kind as CheckRecord['kind'], location: entry.location ?? '' }, relayStates)) entry.stale = true;
  // Relays wrote most of this text (hosts, versions, targets, failure and event messages), the
  // tenant the rest (configuration names); pages and terminals show it: no controls, bidi or
  // zero-width characters.
  return { status: 200, body: stripControlsDeep({ generatedAt: now.toISOString(), checks: entries, relays: [...relayList, ...misconfigured], tenant, roundtrip, ...settingsProblems }) };
}

/** The monitor cannot answer because of its own set-up (settings, storage): say which. */
export function unavailable(problem: string): ApiResponse {
  return { status: 503, body: { error: problem } };
}
