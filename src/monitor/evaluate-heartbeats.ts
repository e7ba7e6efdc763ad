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
import type { KeepaliveReport } from '../heartbeat/schema.js';
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
    const keepalive = value.heartbeat.keepalive;
    if (keepalive) await record(keepaliveCheck(relayId, keepalive.target), keepaliveResult(keepalive));
    await record(heartbeatCheck(relayId), { ok: true, startedAt: value.receivedAt });
    await store.delete(HEARTBEATS, key);
  }

  const relay = await store.get<RelayRecord>(RELAYS, relayId);
  const state = relayState(relay?.value.lastHeartbeatAt, config, now);
  if (state === 'down') await record(heartbeatCheck(relayId), missedHeartbeat(relayId, relay?.value.lastHeartbeatAt, config, now));
  return { relayId, state, heartbeatsProcessed: pending.length, transitions };
}
