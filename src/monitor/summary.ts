import type { RoundtripOutcome } from './roundtrip-cycle.js';
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

/** One line for the log and for `roundtrip test`: what the round trip found, never a secret. */
export function summarizeRoundtrip(outcome: RoundtripOutcome): string {
  switch (outcome.kind) {
    case 'off':
      return 'round trip: off (WBMON_ROUNDTRIP_USER is not set)';
    case 'skipped':
      return `round trip: not run: ${outcome.message}`;
    case 'unknown':
      return `round trip: nothing learnt (not recorded): ${outcome.message}`;
    case 'pending':
      return `${outcome.checkId}: the reset succeeded in the cloud (operation ${outcome.operationId}, status succeeded at ${outcome.finishedAt}); waiting up to ${outcome.windowMinutes} minutes for a relay to report Connect's event 31010`;
    case 'recorded': {
      const r = outcome.result;
      if (!r.ok) return `${outcome.checkId}: NOT WRITTEN BACK: ${r.failure?.code}: ${r.failure?.message}`;
      const warning = r.warnings?.[0];
      if (warning?.code === 'roundtrip_ad_policy') return `${outcome.checkId}: NOT WRITTEN BACK, but the path works: ${warning.message}`;
      if (warning) return `${outcome.checkId}: written back (cloud): ${warning.message}`;
      return `${outcome.checkId}: written back: ${r.detail ?? 'succeeded'}`;
    }
  }
}
