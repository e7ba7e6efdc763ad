/**
 * Which checks are gone: no configuration and no relay reports them any more. Pure: the
 * check, what is configured and reported now, and the clock.
 *
 * Without this, a check whose target, relay or domain controller was removed keeps its last
 * state forever, and a down one reminds forever. A retired check is announced once
 * (`retired`) and its record removed (src/alerting/evaluate-alerts.ts).
 *
 *  - A cloud check (`cloud:<url>`) whose target is neither configured (WBMON_TARGETS) nor a
 *    relay namespace discovered from Connect's log: retired CONFIG_GRACE_MS after its last
 *    result. The grace rides out a deployment in which two instances briefly run with the old
 *    and the new settings.
 *  - Any check of a relay no longer in WBMON_RELAYS: the same grace.
 *  - A check a configured relay no longer reports (its DC setting removed, a target dropped
 *    from WBMON_RELAY_TARGETS): retired once the relay has kept sending heartbeats for
 *    UNREPORTED_MS past that check's last result. The relay must be heard from: while its
 *    heartbeat is missing its checks are stale (see isStale), not gone, and its own
 *    `heartbeat:` check says what is wrong.
 *  - The round trip's check (`roundtrip:<user>`): retired CONFIG_GRACE_MS after its last result
 *    once WBMON_ROUNDTRIP_USER no longer names that user (turned off, or another user).
 *  - Tenant checks are never retired (the tenant timer always reports all of them), except the
 *    check of a Cloud Sync configuration (`tenant:cloudsync:...`) that the last tenant run no
 *    longer found: retired CONFIG_GRACE_MS after its last result. While the configurations
 *    could not be read, none is retired.
 */
import type { CheckRecord } from '../checks/state.js';

export const CONFIG_GRACE_MS = 15 * 60_000;
export const UNREPORTED_MS = 24 * 3_600_000;

export interface Reporting {
  /** Every target the cloud probes now: configured and discovered. */
  readonly cloudTargets: ReadonlySet<string>;
  /** Configured relay ids, those disabled for a wrong entry included. */
  readonly relays: ReadonlySet<string>;
  /** WBMON_RELAYS is unusable as a whole: which relays exist is unknown, so none is retired. */
  readonly relaysUnknown?: boolean;
  /** Server time of each relay's last accepted heartbeat (ISO). */
  readonly lastHeartbeatAt: ReadonlyMap<string, string>;
  /** The checks of the Cloud Sync configurations the last tenant run found; undefined when it could not tell. */
  readonly cloudSyncChecks?: ReadonlySet<string>;
  /** The round trip's check id while WBMON_ROUNDTRIP_USER is set. */
  readonly roundtripCheck?: string;
}

const CLOUD_SYNC_CHECK = 'tenant:cloudsync:';

/** When the monitor last recorded a result for the check (older records: the result's own time). */
function lastReported(check: CheckRecord): number {
  const at = Date.parse(check.reportedAt ?? check.lastResult?.startedAt ?? check.since);
  return Number.isNaN(at) ? 0 : at;
}

/** Why the check is gone, or undefined while something still reports it. */
export function retirementReason(check: CheckRecord, reporting: Reporting, now: Date): string | undefined {
  const age = now.getTime() - lastReported(check);
  if (check.kind === 'tenant') {
    if (!check.id.startsWith(CLOUD_SYNC_CHECK) || !reporting.cloudSyncChecks || reporting.cloudSyncChecks.has(check.id) || age < CONFIG_GRACE_MS) return undefined;
    return 'its Cloud Sync configuration (or that provisioning job) no longer exists in the tenant';
  }
  if (check.kind === 'roundtrip') {
    if (reporting.roundtripCheck === check.id || age < CONFIG_GRACE_MS) return undefined;
    return reporting.roundtripCheck ? 'WBMON_ROUNDTRIP_USER names another test user now' : 'the round trip is off (WBMON_ROUNDTRIP_USER is not set)';
  }
  if (check.kind === 'probe') {
    if (reporting.cloudTargets.has(check.target) || age < CONFIG_GRACE_MS) return undefined;
    return 'its target is no longer configured (WBMON_TARGETS) nor reported by a relay';
  }
  const relayId = check.location;
  if (reporting.relaysUnknown) return undefined;
  if (!reporting.relays.has(relayId)) {
    return age < CONFIG_GRACE_MS ? undefined : `relay ${relayId} is no longer configured (WBMON_RELAYS)`;
  }
  if (check.kind === 'heartbeat') return undefined;
  const heard = Date.parse(reporting.lastHeartbeatAt.get(relayId) ?? '');
  if (Number.isNaN(heard) || heard - lastReported(check) < UNREPORTED_MS) return undefined;
  return `relay ${relayId} has not reported it for ${Math.floor((heard - lastReported(check)) / 3_600_000)} h while sending heartbeats`;
}

/** A relay's reported checks go stale while the relay itself is not heard from. */
export function isStale(check: Pick<CheckRecord, 'kind' | 'location'>, relayStates: ReadonlyMap<string, string>): boolean {
  if (check.kind === 'probe' || check.kind === 'tenant' || check.kind === 'heartbeat' || check.kind === 'roundtrip') return false;
  const state = relayStates.get(check.location);
  return state === 'late' || state === 'down';
}
