/**
 * The check state machine: a pure function of the stored check, one new result, the thresholds
 * and the result's time. No clock, no I/O.
 *
 *   new  --(failureThreshold failures in a row)-->  down
 *   new  --(first success)----------------------->  up     (nothing to recover from)
 *   up   --(failureThreshold failures in a row)-->  down
 *   down --(successThreshold successes in a row)->  up
 *
 * Counters reset on every change of outcome, so an up check needs an unbroken run of failures
 * to go down (one blip is not an outage), and a down check an unbroken run of successes to
 * come back (hysteresis against flapping).
 */
import type { ProbeResult } from '../probes/result.js';

export type CheckState = 'new' | 'up' | 'down';

/**
 * What the state machine needs of a result. A probe result is one; a missed heartbeat is
 * another (code `heartbeat_missing`, phase `heartbeat`), so both alert the same way.
 */
export interface CheckResult {
  readonly ok: boolean;
  /** When the result was measured (ISO 8601). */
  readonly startedAt: string;
  readonly failure?: { readonly code: string; readonly phase: string; readonly message: string };
  /** Worth knowing but not a failure (an expiring certificate, a Connect warning event): the check stays up. */
  readonly warnings?: readonly { readonly code: string; readonly message: string }[];
  readonly http?: { readonly status: number };
  /** What a good result found, in words (the round trip: when and where the password was written back). */
  readonly detail?: string;
}

/**
 * probe: the cloud probing a target; relay-probe: a relay probing a target from its side of
 * the firewall; heartbeat: the dead-man's switch of one relay; keepalive: a relay's
 * idle-keepalive test; eventlog: what Entra Connect logs of writeback; dc: the domain
 * controller's LDAP and Kerberos ports from the relay; tenant: the Microsoft Graph checks;
 * connect: Entra Connect Sync's version support and ADSync service on the relay's server;
 * provisioning-agent: Entra Cloud Sync's agent on the relay's server; reach: a group of hosts
 * the relay must reach (revocation hosts, the agent's endpoints, a relay namespace's gateways);
 * roundtrip: a password reset of the dedicated test user, written back and confirmed.
 */
export type CheckKind = 'probe' | 'relay-probe' | 'heartbeat' | 'keepalive' | 'eventlog' | 'dc' | 'tenant' | 'connect' | 'provisioning-agent' | 'reach' | 'roundtrip';

export interface CheckIdentity {
  /** Stable id, e.g. `cloud:https://passwordreset.microsoftonline.com/`. */
  readonly id: string;
  readonly kind: CheckKind;
  readonly target: string;
  /** Where the result was measured: an Azure region, `local`, or a relay id. */
  readonly location: string;
}

export interface CheckRecord extends CheckIdentity {
  readonly state: CheckState;
  /** When the current state began (ISO 8601). */
  readonly since: string;
  readonly consecutiveFailures: number;
  readonly consecutiveSuccesses: number;
  /**
   * When the current run of failures began (ISO): the startedAt of its first failure. Set by
   * the first failure after the check was healthy; kept while it fails, and while a down check
   * has fewer good results than it needs to recover (the outage is not over); gone once a
   * success leaves the check up (a blip over, or a recovery). Earlier than or equal to `since`
   * of a down check, which is when the threshold was crossed.
   */
  readonly firstFailureAt?: string;
  readonly lastResult?: ProbeResult | CheckResult;
  /**
   * The monitor's own time of the last result it recorded (ISO). Results carry the prober's
   * clock, which on a relay is not ours; retirement goes by this one.
   */
  readonly reportedAt?: string;
}

export interface Transition {
  readonly checkId: string;
  readonly from: CheckState;
  readonly to: CheckState;
  readonly at: string;
  /** Why: the failure (code, phase, message) or the answer that brought it back. */
  readonly reason: string;
}

export interface Thresholds {
  readonly failure: number;
  readonly success: number;
}

export function newCheck(identity: CheckIdentity, now: Date): CheckRecord {
  return { ...identity, state: 'new', since: now.toISOString(), consecutiveFailures: 0, consecutiveSuccesses: 0 };
}

export function describeOutcome(result: CheckResult): string {
  if (result.failure) return `${result.failure.code} in ${result.failure.phase}: ${result.failure.message}`;
  return result.http ? `answered HTTP ${result.http.status}` : 'answered';
}

export function applyResult(
  check: CheckRecord,
  result: CheckResult,
  thresholds: Thresholds,
): { check: CheckRecord; transition?: Transition } {
  // The same measurement again (a heartbeat evaluated twice after a crash) must not count
  // twice. A merely older result still counts: two cloud instances may finish out of order.
  if (check.lastResult?.startedAt === result.startedAt) return { check };
  const at = result.startedAt;
  const failures = result.ok ? 0 : check.consecutiveFailures + 1;
  const successes = result.ok ? check.consecutiveSuccesses + 1 : 0;
  const next = nextState(check.state, failures, successes, thresholds);
  const { firstFailureAt: previousFirst, ...rest } = check;
  const firstFailureAt = result.ok ? (next === 'down' ? previousFirst : undefined) : earlier(previousFirst, at);
  const updated: CheckRecord = {
    ...rest,
    state: next,
    since: next === check.state ? check.since : at,
    consecutiveFailures: failures,
    consecutiveSuccesses: successes,
    ...(firstFailureAt !== undefined && { firstFailureAt }),
    lastResult: result,
  };
  if (next === check.state) return { check: updated };
  return { check: updated, transition: { checkId: check.id, from: check.state, to: next, at, reason: describeOutcome(result) } };
}

/** The earlier of two ISO times; a result that arrives late (another instance) may be older. */
function earlier(known: string | undefined, candidate: string): string {
  if (known === undefined) return candidate;
  return Date.parse(candidate) < Date.parse(known) ? candidate : known;
}

function nextState(current: CheckState, failures: number, successes: number, t: Thresholds): CheckState {
  if (failures >= t.failure && current !== 'down') return 'down';
  if (successes > 0 && current === 'new') return 'up';
  if (successes >= t.success && current === 'down') return 'up';
  return current;
}
