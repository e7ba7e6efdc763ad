/**
 * The round trip's second half: did the password reset the cloud accepted reach Active
 * Directory? Connect's Application log says so, as PasswordResetService logs an
 * administrator's reset: 31009 ResetUserPasswordByAdminStart, then 31010
 * ResetUserPasswordByAdminSuccess ("The password has been successfully written back to the
 * local Active Directory environment") or 31011 ResetUserPasswordByAdminFail ("The password
 * arrived successfully to the on-premises environment. But when we attempted to set the
 * password in the local Active Directory environment, a failure occurred"). Relays on the
 * Connect servers find those events for the test user (src/relay/admin-resets.ts) and report
 * them with each heartbeat; confirmOnPrem joins them to the cloud's answer. Pure, but for
 * relayResets, which reads the relays' latest heartbeats.
 */
import type { RelayMap } from '../config/relays.js';
import type { Settings } from '../config/settings.js';
import { HEARTBEATS, type StoredHeartbeat } from '../heartbeat/ingest.js';
import type { AdminReset, EventLogReport } from '../heartbeat/schema.js';
import type { Store } from '../store/store.js';

export interface RelayResets {
  readonly relayId: string;
  readonly checkedAt: string;
  /** The relay reads Connect's log: eventlog supported, not disabled, no error. */
  readonly readsEventLog: boolean;
  /**
   * The report has `adminResets` (perhaps empty). False for a relay older than the round trip,
   * and for one not told the names yet (its first heartbeat after a restart): such a relay
   * reads the log but cannot confirm, so it neither confirms nor counts towards `missing`.
   */
  readonly reportsResets: boolean;
  readonly adminResets: readonly AdminReset[];
}

export type Confirmation =
  /** A 31010 for one of the names at or after requestedAt - CLOCK_SKEW_MS. */
  | { kind: 'written'; relayId: string; at: string }
  /** A 31011 and no 31010: AD refused it, which still proves the round trip reached a domain controller. */
  | { kind: 'refused'; relayId: string; at: string; excerpt: string; policy: boolean }
  /** Within the window, no verdict yet; startedOn: a relay that logged the 31009. */
  | { kind: 'pending'; startedOn?: string }
  /** The window elapsed without a 31010 or 31011 on any relay. */
  | { kind: 'missing'; windowMinutes: number }
  /** No relay that can confirm reads Connect's log; olderRelays: those that read it but report no admin resets. */
  | { kind: 'unconfirmable'; olderRelays?: string[] };

/**
 * How much earlier than the cloud's request an event may be and still be this round trip's: the
 * relay's clock against the monitor's (heartbeats are refused beyond 300 s; Windows domain time
 * is usually within seconds). An event older than that belongs to an earlier round trip.
 */
export const CLOCK_SKEW_MS = 60_000;

/**
 * Long enough for the default relay (a heartbeat every 300 s, 120 s grace): Connect logs 31010
 * within seconds of the reset (the cloud waits for its answer), but a relay reads its log once
 * per heartbeat, so the events ride on a heartbeat up to one period plus grace later; after a
 * relay restart its first heartbeat is sent before it knows the names, costing one more. Twice
 * (period + grace) is 14 minutes: 15.
 */
export const CONFIRMATION_WINDOW_MINUTES = 15;

/** The window for the relays configured: CONFIRMATION_WINDOW_MINUTES, longer when a relay's period + grace makes twice it longer. */
export function confirmationWindowMinutes(relays: RelayMap): number {
  let longest = 0;
  for (const r of relays.values()) longest = Math.max(longest, r.periodSeconds + r.graceSeconds);
  return Math.max(CONFIRMATION_WINDOW_MINUTES, Math.ceil((2 * longest) / 60));
}

/**
 * The domain's password rules refused the password: ADSync's 0x80230619 ("A restriction
 * prevents the password from being changed to the current one specified"), or Microsoft's
 * wording of 33008 ADPasswordPolicyError ("doesn't meet the password age, history, complexity,
 * or filtering requirements of the domain").
 */
const POLICY_REFUSAL = /0x80230619|ADPasswordPolicyError|password policy|does(?: no|n['’])t meet/i;

export function confirmOnPrem(input: {
  requestedAt: string;
  names: readonly string[];
  relays: readonly RelayResets[];
  now: Date;
  windowMinutes: number;
}): Confirmation {
  const { relays, now, windowMinutes } = input;
  const requested = Date.parse(input.requestedAt);
  const wanted = new Set(input.names.map((n) => n.toLowerCase()));
  const events = relays
    .flatMap((r) => r.adminResets.map((e) => ({ ...e, relayId: r.relayId })))
    .filter((e) => wanted.has(e.user.toLowerCase()) && Date.parse(e.time) >= requested - CLOCK_SKEW_MS)
    .sort((a, b) => Date.parse(b.time) - Date.parse(a.time));
  // A 31010 beats a 31011: the newest of each kind speaks.
  const written = events.find((e) => e.eventId === 31010);
  if (written) return { kind: 'written', relayId: written.relayId, at: written.time };
  const refused = events.find((e) => e.eventId === 31011);
  if (refused) {
    const excerpt = refused.excerpt ?? '';
    return { kind: 'refused', relayId: refused.relayId, at: refused.time, excerpt, policy: POLICY_REFUSAL.test(excerpt) };
  }
  if (!relays.some((r) => r.readsEventLog && r.reportsResets)) {
    const older = relays.filter((r) => r.readsEventLog).map((r) => r.relayId);
    return { kind: 'unconfirmable', ...(older.length > 0 && { olderRelays: older }) };
  }
  if (now.getTime() - requested < windowMinutes * 60_000) {
    const started = events.find((e) => e.eventId === 31009);
    return { kind: 'pending', ...(started && { startedOn: started.relayId }) };
  }
  return { kind: 'missing', windowMinutes };
}

/** One relay's latest report, as confirmOnPrem reads it. */
export function resetsOf(relayId: string, sentAt: string, eventLog: EventLogReport | undefined): RelayResets {
  if (!eventLog) return { relayId, checkedAt: sentAt, readsEventLog: false, reportsResets: false, adminResets: [] };
  return {
    relayId,
    checkedAt: eventLog.checkedAt,
    readsEventLog: eventLog.supported && !eventLog.disabled && eventLog.error === undefined,
    reportsResets: eventLog.adminResets !== undefined,
    adminResets: eventLog.adminResets ?? [],
  };
}

/**
 * The latest stored heartbeat of each configured relay, mapped: the heartbeats collection, as
 * the evaluation lists it (src/monitor/evaluate-heartbeats.ts), in one listing. A heartbeat
 * stays there at least REPLAY_RETENTION_MS (15 minutes) after it arrived, longer than a
 * relay's period, so a relay that is alive always has one; a relay silent for longer has none
 * and is left out (its heartbeat check says why).
 */
export async function relayResets(store: Store, settings: Settings): Promise<RelayResets[]> {
  const latest = new Map<string, StoredHeartbeat>();
  for (const { value } of await store.list<StoredHeartbeat>(HEARTBEATS)) {
    if (!settings.relays.has(value.relayId)) continue;
    const seen = latest.get(value.relayId);
    if (!seen || value.sequence > seen.sequence) latest.set(value.relayId, value);
  }
  return [...settings.relays.keys()]
    .filter((id) => latest.has(id))
    .map((id) => {
      const { heartbeat } = latest.get(id)!;
      return resetsOf(id, heartbeat.sentAt, heartbeat.eventLog);
    });
}
