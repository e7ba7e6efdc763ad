/**
 * The alert policy: whether people must hear about a check now. Pure: the check as stored,
 * its recent transitions, what people were last told about it, the clock, the options.
 *
 * It compares what is true (the check's state) with what was last told, rather than reacting
 * to single transitions, so a crash or a missed run never loses an alert: the next run sees
 * the difference and tells it then.
 *
 *  - `triggered` when a check is down and people were not told so; `resolved` when it is up
 *    again after they were told it was down. A check going from new to up says nothing.
 *  - `reminder` every `remindMinutes` while it stays down (0: never).
 *  - Flapping: more than `flapChanges` state changes within `flapWindowMinutes` is announced
 *    once (`flapping`) and silences triggered/resolved until the check settles; then whatever
 *    differs from what was told is told.
 *  - Maintenance: nothing is told inside a window and the told state stays as it was, so a
 *    check still down when the window ends is announced then.
 *
 * Event ids depend only on the check and its state history, never on the instant of the run,
 * so two evaluators deciding the same thing produce the same id (the outbox keeps one).
 */
import type { CheckRecord, Transition } from '../checks/state.js';
import type { AlertEvent, AlertKind, Remediation } from './event.js';
import { inMaintenance, type MaintenanceWindow } from './maintenance.js';

export interface Notified {
  readonly checkId: string;
  /** What people were last told: that the check is down, or that it is fine; null: nothing yet. */
  readonly told: 'down' | 'up' | null;
  readonly toldAt: string | null;
  /** How many reminders were sent for the current down period. */
  readonly reminders: number;
  readonly flapping: boolean;
}

export interface PolicyOptions {
  readonly remindMinutes: number;
  readonly flapChanges: number;
  readonly flapWindowMinutes: number;
  readonly maintenance: readonly MaintenanceWindow[];
}

export const DEFAULT_FLAP_CHANGES = 4;
export const DEFAULT_FLAP_WINDOW_MINUTES = 60;

export interface Decision {
  readonly events: AlertEvent[];
  readonly notified: Notified;
  /** True when the check is inside a maintenance window (shown as `paused`). */
  readonly paused: boolean;
}

export function decide(
  check: CheckRecord,
  transitions: readonly Transition[],
  previous: Notified | undefined,
  now: Date,
  options: PolicyOptions,
  remediation: (check: CheckRecord) => Remediation,
): Decision {
  const notified: Notified = previous ?? { checkId: check.id, told: null, toldAt: null, reminders: 0, flapping: false };
  if (inMaintenance(options.maintenance, check.id, now)) return { events: [], notified, paused: true };

  const event = (kind: AlertKind, id: string): AlertEvent => alertEvent(check, kind, id, now, remediation(check));
  const decided = (events: AlertEvent[], next: Notified): Decision => ({ events, notified: next, paused: false });

  const windowStart = now.getTime() - options.flapWindowMinutes * 60_000;
  const recent = transitions.filter((t) => t.checkId === check.id && Date.parse(t.at) >= windowStart);
  if (recent.length > options.flapChanges) {
    if (notified.flapping) return decided([], notified);
    return decided([event('flapping', recent[0]!.at)], { ...notified, flapping: true });
  }
  // The same object when nothing changes, so callers can skip writing it back.
  const settled: Notified = notified.flapping ? { ...notified, flapping: false } : notified;
  const at = now.toISOString();

  if (check.state === 'down' && notified.told !== 'down') {
    return decided([event('triggered', check.since)], { ...settled, told: 'down', toldAt: at, reminders: 0 });
  }
  if (check.state === 'up' && notified.told === 'down') {
    return decided([event('resolved', check.since)], { ...settled, told: 'up', toldAt: at, reminders: 0 });
  }
  if (check.state === 'up' && notified.told === null) {
    return decided([], { ...settled, told: 'up', toldAt: at }); // new -> up: nothing to say
  }
  if (check.state === 'down' && options.remindMinutes > 0 && notified.toldAt) {
    const due = Math.floor((now.getTime() - Date.parse(notified.toldAt)) / (options.remindMinutes * 60_000));
    if (due > notified.reminders) {
      return decided([event('reminder', `${check.since}|${due}`)], { ...settled, reminders: due });
    }
  }
  return decided([], settled);
}

/** The event for one decision; its id is the check, the kind and the state period, never the run's instant. */
function alertEvent(check: CheckRecord, kind: AlertKind, id: string, now: Date, remediation: Remediation): AlertEvent {
  return {
    id: `${check.id}|${kind}|${id}`,
    kind,
    checkId: check.id,
    checkKind: check.kind,
    target: check.target,
    location: check.location,
    state: check.state,
    since: check.since,
    ...(check.state === 'down' && check.firstFailureAt !== undefined && { firstFailureAt: check.firstFailureAt }),
    at: now.toISOString(),
    ...(check.state === 'down' && check.lastResult?.failure && { failure: check.lastResult.failure }),
    remediation,
  };
}

/**
 * The one notice for a check that is gone (src/monitor/retirement.ts). Its id depends only on
 * the check and its state history, so racing evaluators make one.
 */
export function retiredEvent(check: CheckRecord, reason: string, now: Date): AlertEvent {
  const { failure: _lastFailure, firstFailureAt: _firstFailure, ...event } = alertEvent(check, 'retired', check.since, now, {
    summary: `No longer monitored: ${reason}. Nothing to fix.`,
    steps: ['If this check should still run, restore the setting or the relay that reported it; the check starts again as new with its next result.'],
  });
  return event;
}
