import type { TenantCycle } from './tenant-cycle.js';
import { MAX_TARGETS_PER_RELAY, type RelayEvaluation } from './evaluate-heartbeats.js';
import type { AlertPass } from '../alerting/evaluate-alerts.js';
import type { Transition } from '../checks/state.js';
import type { CycleOutcome } from './probe-cycle.js';

/** One line per cycle for logs: counts and any state changes, never settings or secrets. */
export function summarizeCycle(outcome: CycleOutcome): string {
  const up = outcome.results.filter((r) => r.ok).length;
  const slowest = Math.max(0, ...outcome.results.map((r) => r.timings.total));
  const changes = outcome.transitions.map(describeTransition);
  return [`probe cycle: ${up}/${outcome.results.length} up, slowest ${Math.round(slowest)} ms`, ...changes].join('; ');
}

/** One line per heartbeat evaluation. */
export function summarizeEvaluation(relays: readonly RelayEvaluation[]): string {
  if (relays.length === 0) return 'heartbeat evaluation: no relays configured (WBMON_RELAYS)';
  const states = relays.map((r) => `${r.relayId} ${r.state}${r.heartbeatsProcessed ? ` (+${r.heartbeatsProcessed})` : ''}`);
  const changes = relays.flatMap((r) => r.transitions).map(describeTransition);
  const errors = relays.flatMap((r) => r.errors.map((e) => `not stored: ${e}`));
  const ignored = relays.flatMap((r) => (r.ignoredTargets ? [`${r.relayId}: ${r.ignoredTargets} results for targets beyond ${MAX_TARGETS_PER_RELAY} per relay ignored`] : []));
  return [`heartbeat evaluation: ${states.join(', ')}`, ...changes, ...errors, ...ignored].join('; ');
}

function describeTransition(t: Transition): string {
  return `${t.checkId} ${t.from}->${t.to} (${t.reason})`;
}

/** One line per alerting pass that did something; channel names only, never their URLs. */
export function summarizeAlerts(pass: AlertPass): string {
  const { sent, retrying, failed } = pass.delivery;
  return `alerts: ${pass.events.length} new (${pass.events.map((e) => `${e.kind} ${e.checkId}`).join(', ') || 'none'}); delivered ${sent}, retrying ${retrying}, failed ${failed}`;
}

/** One line per tenant run. */
export function summarizeTenant(run: TenantCycle): string {
  const unknown = run.unknown.length ? `; not readable now: ${run.unknown.join(', ')}` : '';
  return [`tenant checks: ${run.recorded} recorded${unknown}`, ...run.transitions.map(describeTransition)].join('; ');
}
