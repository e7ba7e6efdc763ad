/**
 * One alerting pass, run after every probe cycle and heartbeat evaluation: the policy decides
 * per check, the decisions go to the outbox, and the outbox delivers what is due.
 *
 * Order matters for not losing alerts: events are recorded in the outbox before the "what
 * people were told" record moves on. A crash between the two makes the next pass decide the
 * same events again, and their idempotency keys keep them single in the outbox.
 */
import { roundtripCheckId } from '../roundtrip/check.js';
import type { Settings } from '../config/settings.js';
import type { CheckRecord, Transition } from '../checks/state.js';
import { CHECKS, TRANSITIONS } from '../monitor/checks-repository.js';
import { StoreConflictError, type Store, type Versioned } from '../store/store.js';
import type { Channel } from './channels/channel.js';
import type { AlertEvent } from './event.js';
import { deliver, enqueue, type DeliveryReport, type OutboxOptions } from './outbox.js';
import { decide, DEFAULT_FLAP_CHANGES, DEFAULT_FLAP_WINDOW_MINUTES, retiredEvent, type Notified } from './policy.js';
import { inMaintenance } from './maintenance.js';
import { RELAYS, type RelayRecord } from '../heartbeat/ingest.js';
import { cloudTargetsOf } from '../monitor/probe-cycle.js';
import { retirementReason, type Reporting } from '../monitor/retirement.js';
import { remediationFor } from './remediation.js';
import { ENGINES_KEY, TENANT_COLLECTION, type TenantRecord } from '../graph/cloud-sync.js';

export const NOTIFIED = 'notified';
/** Transitions older than this are no longer needed for flapping, and are removed. */
const TRANSITION_RETENTION_MS = 30 * 24 * 3_600_000;

export interface AlertPass {
  readonly events: AlertEvent[];
  readonly delivery: DeliveryReport;
  /** Check ids inside a maintenance window now. */
  readonly paused: string[];
  /** Check ids retired in this pass (no configuration or relay reports them any more). */
  readonly retired: string[];
}

export async function evaluateAlerts(
  settings: Settings,
  store: Store,
  channels: ReadonlyMap<string, Channel>,
  now: Date,
  log: (line: string) => void = () => undefined,
  onOutcome?: (channel: string, outcome: 'sent' | 'failed') => void,
  delivery: Pick<OutboxOptions, 'clock' | 'retry'> = {},
): Promise<AlertPass> {
  const [checks, notified, transitions, relays, tenant] = await Promise.all([
    store.list<CheckRecord>(CHECKS),
    store.list<Notified>(NOTIFIED),
    store.list<Transition>(TRANSITIONS),
    store.list<RelayRecord>(RELAYS),
    store.get<TenantRecord>(TENANT_COLLECTION, ENGINES_KEY),
  ]);
  const engines = tenant?.value.engines;
  const reporting: Reporting = {
    cloudTargets: new Set(cloudTargetsOf(settings, relays.map((r) => r.value), now)),
    relays: new Set([...settings.relays.keys(), ...settings.relayProblems.invalid.keys()]),
    relaysUnknown: settings.relayProblems.unusable !== undefined,
    lastHeartbeatAt: new Map(relays.map((r) => [r.key, r.value.lastHeartbeatAt])),
    // Only a list the last tenant run read itself says which configurations are gone.
    ...(settings.roundtrip && { roundtripCheck: roundtripCheckId(settings.roundtrip.userId) }),
    ...(engines?.cloudSync && !engines.cloudSyncProblem && { cloudSyncChecks: new Set(engines.cloudSync.flatMap((c) => (c.checkId ? [c.checkId] : []))) }),
  };
  const told = new Map(notified.map((e) => [e.key, e]));
  const byCheck = new Map<string, Transition[]>();
  for (const { value } of transitions) byCheck.set(value.checkId, [...(byCheck.get(value.checkId) ?? []), value]);
  const options = {
    remindMinutes: settings.alerting.remindMinutes,
    flapChanges: DEFAULT_FLAP_CHANGES,
    flapWindowMinutes: DEFAULT_FLAP_WINDOW_MINUTES,
    maintenance: settings.alerting.maintenance,
  };

  const events: AlertEvent[] = [];
  const paused: string[] = [];
  const retired: string[] = [];
  for (const { value: check } of checks) {
    const previous = told.get(check.id);
    const gone = retirementReason(check, reporting, now);
    if (gone) {
      // Announced first, then removed: a crash in between decides the same event again, and
      // its id keeps it single. Inside a maintenance window it goes quietly.
      const notice = inMaintenance(settings.alerting.maintenance, check.id, now) ? [] : [retiredEvent(check, gone, now)];
      await enqueue(store, notice, [...channels.keys()], now);
      await store.delete(CHECKS, check.id);
      await store.delete(NOTIFIED, check.id);
      events.push(...notice);
      retired.push(check.id);
      continue;
    }
    const decision = decide(check, byCheck.get(check.id) ?? [], previous?.value, now, options, (c) =>
      remediationFor({ checkKind: c.kind, location: c.location, target: c.target, ...(c.lastResult?.failure && { code: c.lastResult.failure.code, phase: c.lastResult.failure.phase, message: c.lastResult.failure.message }) }),
    );
    if (decision.paused) paused.push(check.id);
    if (previous && decision.notified === previous.value) continue; // nothing new: no write
    await enqueue(store, decision.events, [...channels.keys()], now);
    if (await saveNotified(store, check.id, decision.notified, previous)) events.push(...decision.events);
  }

  for (const { key, value } of transitions) {
    if (now.getTime() - Date.parse(value.at) > TRANSITION_RETENTION_MS) await store.delete(TRANSITIONS, key);
  }
  for (const e of events) log(`alert ${e.kind}: ${e.checkId} is ${e.state}${e.failure ? ` (${e.failure.code})` : ''}`);
  const report = await deliver(store, channels, now, { ...delivery, log, ...(onOutcome && { onOutcome }) });
  return { events, delivery: report, paused, retired };
}

/** False when another evaluator moved the record first: it has told people, not us. */
async function saveNotified(store: Store, checkId: string, next: Notified, previous: Versioned<Notified> | undefined): Promise<boolean> {
  try {
    if (previous) await store.replace(NOTIFIED, checkId, next, previous.etag);
    else await store.insert(NOTIFIED, checkId, next);
    return true;
  } catch (err) {
    if (err instanceof StoreConflictError) return false;
    throw err;
  }
}
