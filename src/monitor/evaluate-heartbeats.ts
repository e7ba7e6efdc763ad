/**
 * The heartbeat evaluation (timer): per configured relay,
 *  1. every heartbeat stored since the last run, in sequence order: each reported result
 *     becomes a `relay-probe` check result at the relay's location, and the heartbeat itself a
 *     good result for the relay's `heartbeat` check; the heartbeat is then removed;
 *  2. the dead-man's switch: a relay whose last heartbeat is older than period + grace feeds a
 *     failed `heartbeat_missing` result into the same pipeline, so it alerts like any failure.
 * Relays are evaluated concurrently; each relay's heartbeats strictly in order.
 */
import type { Settings } from '../config/settings.js';
import type { RelayConfig } from '../config/relays.js';
import type { CheckIdentity, CheckResult, Transition } from '../checks/state.js';
import type { DcReport, EventLogReport, KeepaliveReport } from '../heartbeat/schema.js';
import { missedHeartbeat, relayState, type RelayState } from '../heartbeat/freshness.js';
import { HEARTBEATS, RELAYS, type RelayRecord, type StoredHeartbeat } from '../heartbeat/ingest.js';
import type { Store } from '../store/store.js';
import { recordResult } from './checks-repository.js';

export function heartbeatCheck(relayId: string): CheckIdentity {
  return { id: `heartbeat:${relayId}`, kind: 'heartbeat', target: relayId, location: relayId };
}

export function relayProbeCheck(relayId: string, target: string): CheckIdentity {
  return { id: `relay:${relayId}:${target}`, kind: 'relay-probe', target, location: relayId };
}

export function keepaliveCheck(relayId: string, target: string): CheckIdentity {
  return { id: `keepalive:${relayId}`, kind: 'keepalive', target, location: relayId };
}

/** A keepalive report as a check result: it passes when the required idle length survived. */
export function keepaliveResult(report: KeepaliveReport): CheckResult {
  if (report.passed) return { ok: true, startedAt: report.finishedAt };
  const required = report.results.find((r) => r.idleSeconds === report.requiredSeconds) ?? report.results[0]!;
  const message = required.failure
    ? `could not open the test connection: ${required.failure.code}: ${required.failure.message}`
    : `an idle connection to ${report.target} did not survive ${report.requiredSeconds} s: ${required.died?.how} after ${required.died?.afterSeconds} s` +
      (required.blame === 'server' ? ` (the server's own announced limit is ${required.serverKeepAliveSeconds} s)` : '');
  return { ok: false, startedAt: report.finishedAt, failure: { code: `keepalive_${required.died?.how ?? 'failed'}`, phase: 'keepalive', message } };
}

export function eventLogCheck(relayId: string): CheckIdentity {
  return { id: `eventlog:${relayId}`, kind: 'eventlog', target: 'Application log, PasswordResetService', location: relayId };
}

/** Undefined when the relay cannot read the log (not Windows): unsupported is not a failure. */
export function eventLogResult(report: EventLogReport): CheckResult | undefined {
  if (!report.supported) return undefined;
  const at = report.checkedAt;
  const fail = (code: string, message: string): CheckResult => ({ ok: false, startedAt: at, failure: { code, phase: 'eventlog', message } });
  if (report.error) return fail('eventlog_unreadable', report.error);
  const [newest] = report.failures;
  if (newest) {
    const more = report.failures.length > 1 ? ` (+${report.failures.length - 1} more failure events)` : '';
    return fail(`event_${newest.eventId}`, `${newest.provider} ${newest.eventId} at ${newest.time}: ${newest.message}${more}`);
  }
  if (!report.heartbeatFresh) {
    const last = report.lastHeartbeatAt ? `the last was at ${report.lastHeartbeatAt}` : 'none in the last hour';
    return fail('event_31019_missing', `no writeback heartbeat (event 31019) in the last 10 minutes; ${last}`);
  }
  return { ok: true, startedAt: at };
}

export function dcCheck(relayId: string, host: string): CheckIdentity {
  return { id: `dc:${relayId}`, kind: 'dc', target: host, location: relayId };
}

export function dcResult(report: DcReport, at: string): CheckResult {
  const down = report.ports.filter((p) => !p.ok);
  if (down.length === 0) return { ok: true, startedAt: at };
  const message = `domain controller ${report.host}: ${down.map((p) => `port ${p.port} ${p.error ?? 'unreachable'}`).join(', ')}`;
  return { ok: false, startedAt: at, failure: { code: 'dc_unreachable', phase: 'tcp', message } };
}

export interface RelayEvaluation {
  readonly relayId: string;
  readonly state: RelayState;
  readonly heartbeatsProcessed: number;
  readonly transitions: Transition[];
}

export async function evaluateHeartbeats(settings: Settings, store: Store, now: Date): Promise<RelayEvaluation[]> {
  return Promise.all([...settings.relays].map(([relayId, config]) => evaluateRelay(settings, store, relayId, config, now)));
}

async function evaluateRelay(settings: Settings, store: Store, relayId: string, config: RelayConfig, now: Date): Promise<RelayEvaluation> {
  const thresholds = { failure: settings.failureThreshold, success: settings.successThreshold };
  const transitions: Transition[] = [];
  const record = (identity: CheckIdentity, result: Parameters<typeof recordResult>[2]) =>
    recordResult(store, identity, result, thresholds, now).then((o) => o.transition && transitions.push(o.transition));

  const pending = await store.list<StoredHeartbeat>(HEARTBEATS, { prefix: `${relayId}|` });
  for (const { key, value } of pending) {
    for (const result of value.heartbeat.results) await record(relayProbeCheck(relayId, result.target), result);
    const { keepalive, eventLog, dc } = value.heartbeat;
    if (keepalive) await record(keepaliveCheck(relayId, keepalive.target), keepaliveResult(keepalive));
    const fromLog = eventLog && eventLogResult(eventLog);
    if (fromLog) await record(eventLogCheck(relayId), fromLog);
    if (dc) await record(dcCheck(relayId, dc.host), dcResult(dc, value.heartbeat.sentAt));
    await record(heartbeatCheck(relayId), { ok: true, startedAt: value.receivedAt });
    await store.delete(HEARTBEATS, key);
  }

  const relay = await store.get<RelayRecord>(RELAYS, relayId);
  const state = relayState(relay?.value.lastHeartbeatAt, config, now);
  if (state === 'down') await record(heartbeatCheck(relayId), missedHeartbeat(relayId, relay?.value.lastHeartbeatAt, config, now));
  return { relayId, state, heartbeatsProcessed: pending.length, transitions };
}
