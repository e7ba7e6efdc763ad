/**
 * The round trip's run (docs/roundtrip.md): claim the run (never two within 15 minutes, across
 * instances and the CLI), read the guard rails, refresh the delegated token, reset the test
 * user's password and follow the operation; a cloud success then waits for a relay to confirm it
 * from Connect's event log (`settleRoundtrip`, every heartbeat evaluation), and only then is it
 * recorded, once per round trip, through the same pipeline as every check (state, history,
 * alerts, availability at location `tenant`).
 *
 * What the run keeps (collection `roundtrip`): `last-run` (when the last one began), `subject`
 * (the test user's names, which the heartbeat answer hands to relays to match events by), and
 * `pending` (a cloud success not yet confirmed). Never the password; the token lives in its vault.
 */
import type { CheckIdentity, CheckResult, Transition } from '../checks/state.js';
import type { Settings } from '../config/settings.js';
import type { RoundtripSettings } from '../config/roundtrip-settings.js';
import { MIN_ROUNDTRIP_INTERVAL_MINUTES } from '../config/roundtrip-settings.js';
import type { GraphGetOptions } from '../graph/client.js';
import { historyRecorder, type HistorySetting } from '../history/recorder.js';
import { PENDING_KEY, ROUNDTRIP, roundtripCheckId, SUBJECT_KEY, type RoundtripPending as Pending } from '../roundtrip/check.js';
import type { RoundtripSubject } from '../roundtrip/subject-names.js';
import { confirmationWindowMinutes, confirmOnPrem, relayResets, type Confirmation } from '../roundtrip/confirmation.js';
import { resetPassword, type ResetVerdict } from '../roundtrip/reset.js';
import { checkSubject, type Subject } from '../roundtrip/subject.js';
import { StoreConflictError, type Store } from '../store/store.js';
import { recordResult } from './checks-repository.js';
import type { ResultObserver } from './probe-cycle.js';

const LAST_RUN_KEY = 'last-run';
/** A timer a little early (the host fires within a second or so of the minute) still runs. */
const INTERVAL_TOLERANCE_MS = 30_000;
/** A settlement that crashed between its claim and its record is taken up again after this. */
const SETTLE_RETRY_MS = 120_000;
/** A round trip's failure is a finding (a reset failed): one is enough; one good one proves it works again. */
const THRESHOLDS = { failure: 1, success: 1 } as const;



export interface RoundtripIo {
  /** The monitor's own Graph token (managed identity, or WBMON_GRAPH_TOKEN): the guard rails. */
  readonly appToken: GraphGetOptions['token'];
  /** The delegated token of the signed-in administrator, refreshed (src/roundtrip/auth.ts). */
  readonly userToken: () => Promise<{ readonly accessToken: string }>;
  readonly now: () => Date;
  readonly sleep?: (ms: number) => Promise<void>;
  /** The longest the reset may take, polling included. */
  readonly waitMs?: number;
  readonly observe?: ResultObserver;
  readonly log?: (line: string) => void;
  readonly history?: HistorySetting;
}

export type RoundtripOutcome =
  | { readonly kind: 'off' }
  /** Not run: too soon after the last one, or another instance took it. */
  | { readonly kind: 'skipped'; readonly message: string }
  /** Run, but Graph could not be asked: nothing recorded, nothing learnt. */
  | { readonly kind: 'unknown'; readonly message: string }
  | { readonly kind: 'recorded'; readonly checkId: string; readonly result: CheckResult; readonly transition?: Transition; readonly confirmation?: Confirmation }
  /** The cloud said succeeded; recorded once a relay confirms it or the window ends. */
  | { readonly kind: 'pending'; readonly checkId: string; readonly requestedAt: string; readonly finishedAt: string; readonly operationId: string; readonly windowMinutes: number };

export async function runRoundtrip(settings: Settings, store: Store, io: RoundtripIo): Promise<RoundtripOutcome> {
  const rt = settings.roundtrip;
  if (!rt) return { kind: 'off' };
  // An older cloud success still unsettled gets its verdict first; one still inside its window
  // (relays with long periods make it longer than the 15 minutes between runs) is waited for.
  const earlier = await settleRoundtrip(settings, store, io);
  if (earlier?.kind === 'pending') {
    const until = new Date(Date.parse(earlier.requestedAt) + earlier.windowMinutes * 60_000).toISOString();
    return { kind: 'skipped', message: `the last round trip (operation ${earlier.operationId}) still waits for a relay to confirm it, until ${until}` };
  }
  const now = io.now();
  const refusal = await claimRun(store, now);
  if (refusal) return { kind: 'skipped', message: refusal };
  const known = await store.get<RoundtripSubject>(ROUNDTRIP, SUBJECT_KEY);
  const knownUpn = known?.value.userId === rt.userId ? known.value.userPrincipalName : undefined;
  const record = (target: string, result: CheckResult) => recordOne(settings, store, identityOf(rt, target), result, io);
  const failed = (target: string, code: string, phase: string, message: string) => record(target, { ok: false, startedAt: now.toISOString(), failure: { code, phase, message } });

  const guard = await checkSubject(rt.userId, { baseUrl: settings.tenant.graphUrl, token: io.appToken });
  if (guard.kind === 'unknown') return { kind: 'unknown', message: guard.message };
  if (guard.kind !== 'permission' && guard.subject) await rememberSubject(store, guard.subject, now, known?.etag);
  const target = (guard.kind !== 'permission' && guard.subject?.userPrincipalName) || knownUpn || rt.userId;
  if (guard.kind === 'permission') return failed(target, 'graph_permission', 'guard', guard.message);
  if (guard.kind === 'refused') return failed(target, guard.code, 'guard', guard.message);

  let accessToken: string;
  try {
    accessToken = (await io.userToken()).accessToken;
  } catch (err) {
    // By name: the sign-in module (and MSAL) loads only when a token is asked for.
    const name = (err as Error).name;
    if (name === 'RoundtripReauthError' || name === 'TokenVaultError') return failed(target, 'roundtrip_reauth', 'signin', (err as Error).message);
    if (name === 'RoundtripAuthError') return { kind: 'unknown', message: (err as Error).message };
    throw err;
  }
  const verdict = await resetPassword({
    graphUrl: settings.tenant.graphUrl,
    accessToken,
    userId: rt.userId,
    now: io.now,
    sleep: io.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms))),
    ...(io.waitMs !== undefined && { waitMs: io.waitMs }),
  });
  if (verdict.kind === 'unknown') return { kind: 'unknown', message: verdict.message };
  if (verdict.kind === 'failed') return record(target, failedResult(verdict));
  const pending: Pending = { userId: rt.userId, target, names: guard.subject.names, requestedAt: verdict.requestedAt, finishedAt: verdict.finishedAt, operationId: verdict.operationId };
  await putPending(store, pending);
  // Settled at once when no relay can confirm it; otherwise the evaluation settles it.
  const settled = await settleRoundtrip(settings, store, io);
  return settled ?? { kind: 'pending', checkId: roundtripCheckId(rt.userId), requestedAt: pending.requestedAt, finishedAt: pending.finishedAt, operationId: pending.operationId, windowMinutes: confirmationWindowMinutes(settings.relays) };
}

/**
 * Joins a cloud success with what the relays read in Connect's event log, and records the round
 * trip once there is a verdict. Undefined when nothing is pending.
 */
export async function settleRoundtrip(
  settings: Settings,
  store: Store,
  io: Pick<RoundtripIo, 'now' | 'observe' | 'log' | 'history'>,
): Promise<RoundtripOutcome | undefined> {
  const rt = settings.roundtrip;
  if (!rt) return undefined;
  const stored = await store.get<Pending>(ROUNDTRIP, PENDING_KEY);
  if (!stored) return undefined;
  const pending = stored.value;
  const now = io.now();
  if (pending.userId !== rt.userId) {
    // WBMON_ROUNDTRIP_USER changed: the old user's round trip is no one's check any more.
    await store.delete(ROUNDTRIP, PENDING_KEY);
    return undefined;
  }
  const checkId = roundtripCheckId(rt.userId);
  const waiting: RoundtripOutcome = { kind: 'pending', checkId, requestedAt: pending.requestedAt, finishedAt: pending.finishedAt, operationId: pending.operationId, windowMinutes: confirmationWindowMinutes(settings.relays) };
  if (pending.settlingAt && now.getTime() - Date.parse(pending.settlingAt) < SETTLE_RETRY_MS) return waiting;
  const confirmation = confirmOnPrem({ requestedAt: pending.requestedAt, names: pending.names, relays: await relayResets(store, settings), now, windowMinutes: confirmationWindowMinutes(settings.relays) });
  if (confirmation.kind === 'pending') return waiting;
  try {
    // Claimed first, so two evaluators never record the same round trip twice.
    await store.replace(ROUNDTRIP, PENDING_KEY, { ...pending, settlingAt: now.toISOString() }, stored.etag);
  } catch (err) {
    if (err instanceof StoreConflictError) return waiting;
    throw err;
  }
  const outcome = await recordOne(settings, store, identityOf(rt, pending.target), confirmedResult(pending, confirmation), io, confirmation);
  await store.delete(ROUNDTRIP, PENDING_KEY);
  return outcome;
}

function identityOf(rt: RoundtripSettings, target: string): CheckIdentity {
  return { id: roundtripCheckId(rt.userId), kind: 'roundtrip', target, location: 'tenant' };
}

async function recordOne(
  settings: Settings,
  store: Store,
  identity: CheckIdentity,
  result: CheckResult,
  io: Pick<RoundtripIo, 'now' | 'observe' | 'log' | 'history'>,
  confirmation?: Confirmation,
): Promise<RoundtripOutcome> {
  const now = io.now();
  const history = historyRecorder(store, settings, io.history, io.log);
  io.observe?.(identity, result);
  let transition: Transition | undefined;
  try {
    transition = (await recordResult(store, identity, result, THRESHOLDS, now, { history })).transition;
  } finally {
    if (history) await history.flush(now);
  }
  return { kind: 'recorded', checkId: identity.id, result, ...(transition && { transition }), ...(confirmation && { confirmation }) };
}

function failedResult(verdict: Extract<ResetVerdict, { kind: 'failed' }>): CheckResult {
  if (verdict.code === 'roundtrip_ad_policy') {
    // The round trip reached a domain controller and came back: writeback works. The test
    // user's password policy is what needs fixing, which is worth a warning, not a page.
    return { ok: true, startedAt: verdict.requestedAt, warnings: [{ code: verdict.code, message: verdict.message }] };
  }
  return { ok: false, startedAt: verdict.requestedAt, failure: { code: verdict.code, phase: verdict.phase, message: verdict.message } };
}

function confirmedResult(pending: Pending, confirmation: Exclude<Confirmation, { kind: 'pending' }>): CheckResult {
  const startedAt = pending.requestedAt;
  const accepted = `the reset of ${pending.target} succeeded in the cloud at ${pending.finishedAt} (operation ${pending.operationId})`;
  switch (confirmation.kind) {
    case 'written':
      return { ok: true, startedAt, detail: `${accepted} and was written by Connect at ${confirmation.at} (relay ${confirmation.relayId}, event 31010)` };
    case 'refused':
      if (confirmation.policy) {
        return {
          ok: true,
          startedAt,
          warnings: [{ code: 'roundtrip_ad_policy', message: `${accepted}, but on-prem AD refused the password by its policy (relay ${confirmation.relayId}, event 31011 at ${confirmation.at}): "${confirmation.excerpt}". The round trip reached a domain controller; fix the test user's password policy` }],
        };
      }
      return {
        ok: false,
        startedAt,
        failure: { code: 'roundtrip_onprem_refused', phase: 'onprem', message: `${accepted}, but Connect could not write it to on-prem AD (relay ${confirmation.relayId}, event 31011 at ${confirmation.at}): "${confirmation.excerpt}"` },
      };
    case 'missing':
      return {
        ok: true,
        startedAt,
        warnings: [{ code: 'roundtrip_unconfirmed', message: `${accepted}, but no relay reported Connect's event 31010 for it within ${confirmation.windowMinutes} minutes` }],
      };
    case 'unconfirmable':
      return {
        ok: true,
        startedAt,
        warnings: [
          {
            code: 'roundtrip_unconfirmable',
            message: confirmation.olderRelays?.length
              ? `${accepted}; relay ${confirmation.olderRelays.join(', ')} reads Connect's event log but reports no admin resets yet (it learns whom to look for from the monitor's answer to its heartbeat, or runs an older version), so the cloud's word is the only confirmation`
              : `${accepted}; no relay reads Connect's event log, so the cloud's word is the only confirmation`,
          },
        ],
      };
  }
}

/** Undefined when this run may go ahead (and is now claimed), else why not. */
async function claimRun(store: Store, now: Date): Promise<string | undefined> {
  const last = await store.get<{ at: string }>(ROUNDTRIP, LAST_RUN_KEY);
  if (last) {
    const earliest = Date.parse(last.value.at) + MIN_ROUNDTRIP_INTERVAL_MINUTES * 60_000;
    if (now.getTime() < earliest - INTERVAL_TOLERANCE_MS) {
      return `the last round trip began at ${last.value.at}; the next may begin at ${new Date(earliest).toISOString()} (never more often than every ${MIN_ROUNDTRIP_INTERVAL_MINUTES} minutes, whatever the schedule says)`;
    }
  }
  try {
    if (last) await store.replace(ROUNDTRIP, LAST_RUN_KEY, { at: now.toISOString() }, last.etag);
    else await store.insert(ROUNDTRIP, LAST_RUN_KEY, { at: now.toISOString() });
  } catch (err) {
    if (err instanceof StoreConflictError) return 'another instance began a round trip at the same time';
    throw err;
  }
  return undefined;
}

async function rememberSubject(store: Store, subject: Subject, now: Date, etag: string | undefined): Promise<void> {
  const value: RoundtripSubject = { userId: subject.userId, ...(subject.userPrincipalName && { userPrincipalName: subject.userPrincipalName }), names: subject.names, updatedAt: now.toISOString() };
  try {
    if (etag) await store.replace(ROUNDTRIP, SUBJECT_KEY, value, etag);
    else await store.insert(ROUNDTRIP, SUBJECT_KEY, value);
  } catch (err) {
    // Another run wrote the same names at the same time.
    if (!(err instanceof StoreConflictError)) throw err;
  }
}

async function putPending(store: Store, pending: Pending): Promise<void> {
  const old = await store.get<Pending>(ROUNDTRIP, PENDING_KEY);
  // A newer cloud success supersedes an unsettled older one (its window ran out unsettled, or the
  // evaluation is not running): this run is the one to confirm now.
  if (old) await store.replace(ROUNDTRIP, PENDING_KEY, pending, old.etag);
  else await store.insert(ROUNDTRIP, PENDING_KEY, pending);
}
