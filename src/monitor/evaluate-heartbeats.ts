/**
 * The heartbeat evaluation (timer): per configured relay,
 *  1. every heartbeat stored since the last run, in sequence order: each reported result
 *     becomes a check result at the relay's location (relay-probe, keepalive, eventlog, dc),
 *     the heartbeat itself a good result for the relay's `heartbeat` check, and the relay
 *     record moves forward to it; processed heartbeats are removed once past replay retention;
 *  2. the dead-man's switch: a relay whose last heartbeat is older than period + grace feeds a
 *     failed `heartbeat_missing` result into the same pipeline, so it alerts like any failure.
 * Relays, heartbeats and checks are each read with one listing, not one read per relay; relays
 * are evaluated by a bounded pool; each relay's heartbeats strictly in order.
 *
 * Store calls per heartbeat: one batch with every check it changes (all of a relay's checks
 * are in one partition, so one entity-group transaction), then the relay record; a transition
 * adds an insert, and a heartbeat past the replay window a delete that nothing waits for. A
 * relay with nothing new costs nothing, unless its heartbeat is missing (one write). At 10 ms
 * a round trip that is about 20 ms of waiting per relay and heartbeat, 16 relays at a time;
 * on Table Storage the checks partition's write rate bounds it first (docs/design.md,
 * "Evaluation at scale").
 */
import { inPool } from './in-pool.js';
import { historyRecorder, type HistorySetting } from '../history/recorder.js';
import type { Settings } from '../config/settings.js';
import { RELAY_ID, type RelayConfig } from '../config/relays.js';
import { RELAY_MISCONFIGURED } from '../alerting/words.js';
import type { CheckIdentity, CheckRecord, CheckResult, Transition } from '../checks/state.js';
import type { DcReport, EventLogReport, KeepaliveReport } from '../heartbeat/schema.js';
import { missedHeartbeat, relayState, type RelayState } from '../heartbeat/freshness.js';
import { maskNames } from '../checks/mask.js';
import { classifyEvent, eventKey, SEVERITY, type EventClass } from '../heartbeat/event-classes.js';
import { advanceRecord, HEARTBEATS, RELAYS, REPLAY_RETENTION_MS, type RelayRecord, type StoredHeartbeat } from '../heartbeat/ingest.js';
import { StoreConflictError, type Entry, type Store, type Versioned } from '../store/store.js';
import { CHECKS, recordResult, recordResults, type PendingResult, type Superseded } from './checks-repository.js';
import type { ResultObserver } from './probe-cycle.js';
import { agentCheck, agentResult, connectCheck, connectResult, reachCheck, reachResults } from './sync-engine-checks.js';

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

type LogEvent = EventLogReport['failures'][number];

/** Says where event text comes from: anyone on the Connect server can write to that log. */
export const EVENT_TEXT_LABEL = "event text (from the server's Application log, not verified)";
const EXCERPT_CHARS = 200;

/** An event's text as a short, one-line, quoted excerpt: never as advice of its own. */
export function quotedExcerpt(message: string): string {
  const line = maskNames(message).replace(/\s+/g, ' ').trim().replace(/"/g, "'");
  if (line.length <= EXCERPT_CHARS) return `"${line}"`;
  let cut = line.slice(0, EXCERPT_CHARS);
  if (/[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1);
  return `"${cut}…"`;
}

const describe = (e: LogEvent, when: string): string => `Connect logged ${e.provider} ${e.eventId} ${when}; ${EVENT_TEXT_LABEL}: ${quotedExcerpt(e.message)}`;

/**
 * The report as a check result. Undefined when the relay cannot read the log (not Windows) or
 * does not by setting (WBMON_EVENTLOG=off, `disabled`): neither is a failure, and a check the
 * relay no longer reports is retired after a day (src/monitor/retirement.ts). On a Connect server
 * in staging mode (`stagingMode`) a missing 31019 is not a failure but a `connect_staging` warning.
 *
 * Events are classified here again (older relays list every 33xxx event as a failure) and
 * `counted` (the relay record's countedEvents) leaves out those earlier heartbeats already
 * counted. The worst new outage fails the check; warnings and per-user administrator work ride
 * on the result as `warnings`, one per event id, with a count; users' own refusals say nothing.
 */
export function eventLogResult(report: EventLogReport, counted: readonly string[] = []): CheckResult | undefined {
  if (!report.supported) return undefined;
  const at = report.checkedAt;
  const already = new Set(counted);
  const fresh = new Map<string, LogEvent & { readonly class: EventClass }>();
  for (const e of [...report.failures, ...(report.notices ?? [])]) {
    const key = eventKey(e);
    if (!already.has(key)) fresh.set(key, { ...e, class: classifyEvent(e) });
  }
  const events = [...fresh.values()].sort((a, b) => SEVERITY[b.class] - SEVERITY[a.class] || Date.parse(b.time) - Date.parse(a.time));
  const warnings = noticesOf(events.filter((e) => e.class === 'warning' || e.class === 'admin'));
  const result = (r: CheckResult): CheckResult => (warnings.length > 0 ? { ...r, warnings } : r);
  const fail = (code: string, message: string): CheckResult => result({ ok: false, startedAt: at, failure: { code, phase: 'eventlog', message } });
  if (report.error) return fail('eventlog_unreadable', report.error);
  const outages = events.filter((e) => e.class === 'outage');
  const [worst] = outages;
  if (worst) {
    const more = outages.length > 1 ? ` (+${outages.length - 1} more outage event${outages.length > 2 ? 's' : ''})` : '';
    return fail(`event_${worst.eventId}`, `${describe(worst, `at ${worst.time}`)}${more}`);
  }
  if (!report.heartbeatFresh && report.stagingMode) {
    // how-to-connect-sync-staging-server: "A server in staging mode is not running password sync
    // or password writeback": no 31019 is expected here, and none missing is news.
    return { ok: true, startedAt: at, warnings: [...warnings, { code: 'connect_staging', message: STAGING_NOTE }].slice(0, 10) };
  }
  if (!report.heartbeatFresh) {
    const last = report.lastHeartbeatAt ? `the last was at ${report.lastHeartbeatAt}` : 'none in the last hour';
    return fail('event_31019_missing', `no writeback heartbeat (event 31019) in the last 10 minutes; ${last}`);
  }
  return result({ ok: true, startedAt: at });
}

export const STAGING_NOTE =
  'this Connect server is in staging mode: it writes no passwords back, so no writeback heartbeat (event 31019) is expected here; the active Connect server handles writeback, and a relay on it watches its log';

/** Our words, not the event's, for the per-user events (from Microsoft's table, see event-classes.ts). */
const ADMIN_HINTS: ReadonlyMap<number, string> = new Map([
  [33001, 'Active Directory returned an unknown error; the ADSync events of that time say more'],
  [33002, 'the user was not found on-prem: deleted there but not in the cloud, or a sync problem'],
  [33003, 'two on-prem users share the cloud anchor'],
  [33004, "the AD DS connector account may not reset this user's password (or the user has adminCount=1)"],
  [33009, 'an Active Directory configuration problem; the ADSync events of that time say more'],
  [31011, "an administrator's reset of this user's password reached the Connect server but Active Directory refused it: the domain's password rules, the AD DS connector account's rights, or a protected group"],
  [6329, 'the sync engine could not set the password in Active Directory; the event names the error'],
]);

/** One warning per event id (newest first within it), worst first, at most 10. */
function noticesOf(events: readonly (LogEvent & { readonly class: EventClass })[]): { code: string; message: string }[] {
  const byId = new Map<string, (LogEvent & { readonly class: EventClass })[]>();
  for (const e of events) byId.set(`${e.provider}|${e.eventId}`, [...(byId.get(`${e.provider}|${e.eventId}`) ?? []), e]);
  return [...byId.values()].slice(0, 10).map(([newest, ...rest]) => {
    const times = rest.length === 0 ? `at ${newest!.time}` : `${rest.length + 1} times, the last at ${newest!.time}`;
    const hint = ADMIN_HINTS.get(newest!.eventId);
    const what = newest!.class === 'admin' ? ` (per-user administrator work, not an outage${hint ? `: ${hint}` : ''})` : '';
    return { code: `event_${newest!.eventId}`, message: `${describe(newest!, times)}${what}` };
  });
}

export function dcCheck(relayId: string, host: string): CheckIdentity {
  return { id: `dc:${relayId}`, kind: 'dc', target: host, location: relayId };
}

/** One result for every domain controller a heartbeat reports: each failed port, and each DC not found, named. */
export function dcResult(report: DcReport | readonly DcReport[], at: string): CheckResult {
  const reports: readonly DcReport[] = Array.isArray(report) ? report : [report as DcReport];
  const problems = reports.flatMap((r) => {
    if (r.error) return [`domain ${r.domain ?? r.host}: ${r.error}`];
    const down = r.ports.filter((p) => !p.ok);
    return down.length ? [`domain controller ${r.host}: ${down.map((p) => `port ${p.port} ${p.error ?? 'unreachable'}`).join(', ')}`] : [];
  });
  if (problems.length === 0) return { ok: true, startedAt: at };
  return { ok: false, startedAt: at, failure: { code: 'dc_unreachable', phase: 'tcp', message: problems.join('; ').slice(0, 1000) } };
}

export interface RelayEvaluation {
  readonly relayId: string;
  readonly state: RelayState;
  readonly heartbeatsProcessed: number;
  readonly transitions: Transition[];
  /**
   * What could not be stored for this relay this run (one line each). One relay's trouble
   * never stops the others, nor its own dead-man's switch, nor the alert pass after.
   */
  readonly errors: string[];
  /** Targets beyond MAX_TARGETS_PER_RELAY that this run did not turn into checks. */
  readonly ignoredTargets: number;
}

/**
 * Distinct targets one relay may have checks for. A relay probes the writeback endpoints (3)
 * and perhaps its tenant's own relay namespaces; 10 leaves room for those and a few more. A
 * heartbeat naming 50 new targets (which a signed but hostile or broken relay can send) would
 * otherwise add 50 checks, and 50 alerts, every time. A check no longer reported is retired
 * (src/monitor/retirement.ts), which frees its place.
 */
export const MAX_TARGETS_PER_RELAY = 10;

/**
 * Relays evaluated at once by default. Each has one store call in flight at a time (plus
 * removals of old heartbeats, which nothing waits for), so this bounds the calls in flight to
 * about twice as many. More would not help on Table Storage: 16 relays at 20 ms each could
 * write about 3,200 check entities a second to the one `checks` partition, past the 2,000 a
 * second Table Storage targets for a partition, so TableStore already paces them
 * (PARTITION_WRITES_PER_SECOND): the partition, not the round trips, sets the pace there.
 */
export const EVALUATION_CONCURRENCY = 16;

export interface EvaluateOptions {
  /** Relays evaluated at once (default EVALUATION_CONCURRENCY); each makes its own sequence of store calls. */
  readonly concurrency?: number;
  readonly observe?: ResultObserver;
  /** Per relay after evaluation: heartbeat age (seconds) and a keepalive report that arrived. */
  readonly onRelay?: (relayId: string, heartbeatAgeSeconds: number | undefined, keepalive: KeepaliveReport | undefined) => void;
  /** The process's history row cache, or false to leave history out (only to measure its cost). */
  readonly history?: HistorySetting;
  readonly log?: (line: string) => void;
}

interface Context {
  readonly settings: Settings;
  readonly store: Store;
  readonly now: Date;
  readonly records: Map<string, Versioned<RelayRecord>>;
  readonly pending: Map<string, Entry<StoredHeartbeat>[]>;
  /** Every check as listed at the start (null: known not to exist), kept current as we write. */
  readonly checks: Map<string, Versioned<CheckRecord> | null>;
  /** Each relay's relay-probe targets as listed at the start: one pass over the checks, not one per relay. */
  readonly relayTargets: ReadonlyMap<string, readonly string[]>;
  readonly observe: ResultObserver | undefined;
  readonly onRelay: EvaluateOptions['onRelay'];
  readonly history: HistorySetting;
  readonly log: ((line: string) => void) | undefined;
}

export async function evaluateHeartbeats(settings: Settings, store: Store, now: Date, options: EvaluateOptions = {}): Promise<RelayEvaluation[]> {
  const [heartbeats, checks] = await Promise.all([store.list<StoredHeartbeat>(HEARTBEATS), store.list<CheckRecord>(CHECKS)]);
  // The relay records after the checks, not beside them: an evaluator writes a heartbeat's
  // checks before it moves the relay record on, so a check listed first holds no heartbeat
  // more than one past its record as listed here. That is what makes applying the next
  // heartbeat to it right (a repeat, or the next result) when another evaluator runs too.
  const records = await store.list<RelayRecord>(RELAYS);
  const pending = new Map<string, Entry<StoredHeartbeat>[]>();
  for (const entry of heartbeats) {
    const list = pending.get(entry.value.relayId) ?? [];
    list.push(entry); // listed in key order, i.e. sequence order
    pending.set(entry.value.relayId, list);
  }
  const context: Context = {
    settings,
    store,
    now,
    records: new Map(records.map((e) => [e.key, e])),
    pending,
    checks: new Map(checks.map((e) => [e.key, e])),
    relayTargets: relayProbeTargets(checks.map((e) => e.value)),
    observe: options.observe,
    onRelay: options.onRelay,
    history: options.history,
    log: options.log,
  };
  if (settings.relayProblems.unusable) {
    // No relay is known, so none can be judged: say so (the run fails, which Azure Monitor's
    // function-failure rule sees) rather than let every relay look removed.
    throw new Error(`WBMON_RELAYS: ${settings.relayProblems.unusable}; no relay is evaluated until it is fixed`);
  }
  const misconfigured = await Promise.all([...settings.relayProblems.invalid].map(([relayId, problems]) => recordMisconfigured(context, relayId, problems)));
  const evaluated = await inPool([...settings.relays], options.concurrency ?? EVALUATION_CONCURRENCY, ([relayId, config]) =>
    // Whatever goes wrong with one relay stays with it: the others are evaluated all the same.
    evaluateRelay(context, relayId, config).catch((err: unknown): RelayEvaluation => ({
      relayId,
      state: 'new',
      heartbeatsProcessed: 0,
      transitions: [],
      errors: [`relay ${relayId}: ${(err as Error).message}`],
      ignoredTargets: 0,
    })),
  );
  return [...evaluated, ...misconfigured.filter((e): e is RelayEvaluation => e !== undefined)];
}

/**
 * A relay whose WBMON_RELAYS entry is wrong is disabled, and its heartbeat check fails as
 * misconfigured (the channels say MISCONFIGURED, not DOWN): the fix is the monitor's setting.
 * The problems name fields, never a secret's value (src/config/relays.ts).
 */
async function recordMisconfigured(ctx: Context, relayId: string, problems: readonly string[]): Promise<RelayEvaluation | undefined> {
  if (!RELAY_ID.test(relayId)) return undefined; // no check can be named after it; the log says it
  const result: CheckResult = {
    ok: false,
    startedAt: ctx.now.toISOString(),
    failure: { code: RELAY_MISCONFIGURED, phase: 'config', message: `WBMON_RELAYS on the monitor: ${problems.join('; ').slice(0, 900)}` },
  };
  const transitions: Transition[] = [];
  const errors: string[] = [...problems];
  try {
    const thresholds = { failure: 1, success: ctx.settings.successThreshold };
    const history = historyRecorder(ctx.store, ctx.settings, ctx.history, ctx.log);
    const outcome = await recordResult(ctx.store, heartbeatCheck(relayId), result, thresholds, ctx.now, { known: ctx.checks.get(heartbeatCheck(relayId).id) ?? null, history });
    if (history) await history.flush(ctx.now);
    if (outcome.transition) transitions.push(outcome.transition);
  } catch (err) {
    errors.push((err as Error).message);
  }
  return { relayId, state: 'down', heartbeatsProcessed: 0, transitions, errors, ignoredTargets: 0 };
}

async function evaluateRelay(ctx: Context, relayId: string, config: RelayConfig): Promise<RelayEvaluation> {
  const { store, now, settings } = ctx;
  const thresholds = { failure: settings.failureThreshold, success: settings.successThreshold };
  const transitions: Transition[] = [];
  const errors: string[] = [];
  // The relay's whole evaluation goes to history in one write, at its end.
  const history = historyRecorder(store, settings, ctx.history, ctx.log);
  /** One result alone; false when it could not be stored (the error is kept and the relay goes on). */
  const recordOne = async ({ identity, result }: PendingResult, superseded?: Superseded): Promise<boolean> => {
    try {
      const outcome = await recordResult(store, identity, result, thresholds, now, { known: ctx.checks.get(identity.id) ?? null, ...(superseded && { superseded }), history });
      if (outcome.etag) ctx.checks.set(identity.id, { value: outcome.check, etag: outcome.etag });
      if (outcome.transition) transitions.push(outcome.transition);
      return true;
    } catch (err) {
      errors.push(`${identity.id.slice(0, 200)}: ${(err as Error).message}`);
      return false;
    }
  };
  const record = (identity: CheckIdentity, result: CheckResult, superseded?: Superseded): Promise<boolean> => {
    ctx.observe?.(identity, result);
    return recordOne({ identity, result }, superseded);
  };
  /**
   * A heartbeat's results and its own good heartbeat result, in one batch. When the batch
   * cannot be written (the store refused one row, say, or it is too large for one transaction),
   * each result is written alone instead, and the heartbeat check says how many were lost.
   *
   * After a conflict, once the checks are read again, the relay record is read: if another
   * evaluator has moved it past this heartbeat, it recorded these results (checks are written
   * before the record moves) and perhaps later ones too, so nothing is applied again. Reading
   * the record after the checks is what makes that sound: checks never hold a heartbeat more
   * than one past the record. Resolves to that newer record, if so.
   */
  const recordHeartbeat = async (stored: StoredHeartbeat, reports: readonly PendingResult[]): Promise<Versioned<RelayRecord> | undefined> => {
    let newer: Versioned<RelayRecord> | undefined;
    const superseded: Superseded = async () => {
      const fresh = await store.get<RelayRecord>(RELAYS, relayId);
      if (fresh && fresh.value.lastSequence >= stored.sequence) newer = fresh;
      return newer !== undefined;
    };
    const beat: PendingResult = { identity: heartbeatCheck(relayId), result: { ok: true, startedAt: stored.receivedAt } };
    for (const { identity, result } of reports) ctx.observe?.(identity, result);
    try {
      const outcome = await recordResults(store, [...reports, beat], thresholds, now, (id) => ctx.checks.get(id) ?? null, superseded, history);
      for (const [id, check] of outcome.written) ctx.checks.set(id, check);
      transitions.push(...outcome.transitions);
      ctx.observe?.(beat.identity, beat.result);
      return newer;
    } catch {
      // What the batch hit is found again, row by row, by the single writes below.
    }
    let unstored = 0;
    for (const report of reports) if (!newer && !(await recordOne(report, superseded))) unstored++;
    if (newer) return newer;
    // A heartbeat whose reports the monitor could not keep is not a healthy one: it fails
    // the relay's own check, so the loss is alerted on like any failure of this relay.
    await record(beat.identity, unstored === 0 ? beat.result : unstoredResults(beat.result.startedAt, unstored, errors), superseded);
    return newer;
  };

  const targets = new Set(ctx.relayTargets.get(relayId));
  let ignoredTargets = 0;
  /** Whether a result for this target may be recorded: a known target, or room for one more. */
  const admit = (target: string): boolean => {
    if (targets.has(target)) return true;
    if (targets.size >= MAX_TARGETS_PER_RELAY) {
      ignoredTargets++;
      return false;
    }
    targets.add(target);
    return true;
  };

  let relay = ctx.records.get(relayId);
  let processed = 0;
  let keepaliveReport: KeepaliveReport | undefined;
  /** Removals of heartbeats past the replay window: housekeeping, which nothing waits for. */
  const removals: Promise<void>[] = [];
  const remove = (key: string): void => {
    removals.push(store.delete(HEARTBEATS, key).catch((err: unknown) => void errors.push(`relay ${relayId}: ${(err as Error).message}`)));
  };
  try {
    for (const { key, value: stored } of ctx.pending.get(relayId) ?? []) {
      if (stored.sequence > (relay?.value.lastSequence ?? -1)) {
        const { results, keepalive, eventLog, dc, dcs, sentAt, connectSync, provisioningAgent, reach, gateways } = stored.heartbeat;
        const reports: PendingResult[] = [];
        for (const result of results) if (admit(result.target)) reports.push({ identity: relayProbeCheck(relayId, result.target), result });
        if (keepalive) {
          keepaliveReport = keepalive;
          reports.push({ identity: keepaliveCheck(relayId, keepalive.target), result: keepaliveResult(keepalive) });
        }
        const fromLog = eventLog && eventLogResult(eventLog, relay?.value.countedEvents);
        if (fromLog) reports.push({ identity: eventLogCheck(relayId), result: fromLog });
        // One check for all of them, named after the first failing DC (the remediation's {host}).
        const controllers = dcs ?? (dc ? [dc] : []);
        const named = controllers.find((r) => r.error || r.ports.some((p) => !p.ok)) ?? controllers[0];
        if (named) reports.push({ identity: dcCheck(relayId, named.host), result: dcResult(controllers, sentAt) });
        const connect = connectSync && connectResult(connectSync);
        if (connect) reports.push({ identity: connectCheck(relayId), result: connect });
        const agent = provisioningAgent && agentResult(provisioningAgent);
        if (agent) reports.push({ identity: agentCheck(relayId), result: agent });
        for (const { group, result } of reachResults(reach ?? [], sentAt, gateways)) reports.push({ identity: reachCheck(relayId, group), result });
        const newer = await recordHeartbeat(stored, reports);
        if (newer) {
          relay = newer; // another evaluator processed this heartbeat: go on from where it got to
        } else {
          relay = await saveRelay(store, relayId, relay, stored);
          processed++;
        }
      }
      // Only once the relay record is past it: a heartbeat is never removed unprocessed.
      if (now.getTime() - Date.parse(stored.receivedAt) > REPLAY_RETENTION_MS) remove(key);
    }
  } catch (err) {
    // The relay record could not move on: the rest of its heartbeats wait for the next run.
    errors.push(`relay ${relayId}: ${(err as Error).message}`);
  }

  const state = relayState(relay?.value.lastHeartbeatAt, config, now);
  const last = relay?.value.lastHeartbeatAt;
  ctx.onRelay?.(relayId, last ? (now.getTime() - Date.parse(last)) / 1000 : undefined, keepaliveReport);
  if (state === 'down') await record(heartbeatCheck(relayId), missedHeartbeat(relayId, relay?.value.lastHeartbeatAt, config, now));
  if (history) await history.flush(now);
  await Promise.all(removals);
  return { relayId, state, heartbeatsProcessed: processed, transitions, errors, ignoredTargets };
}

/** The heartbeat arrived, but some of what it reported could not be stored. */
export function unstoredResults(at: string, count: number, errors: readonly string[]): CheckResult {
  const first = errors.at(-1) ?? 'unknown error';
  return {
    ok: false,
    startedAt: at,
    failure: { code: 'results_unstored', phase: 'heartbeat', message: `the monitor could not store ${count} of this heartbeat's reports: ${first.slice(0, 300)}` },
  };
}

function relayProbeTargets(checks: readonly CheckRecord[]): Map<string, string[]> {
  const byRelay = new Map<string, string[]>();
  for (const check of checks) {
    if (check.kind !== 'relay-probe') continue;
    const list = byRelay.get(check.location) ?? [];
    list.push(check.target);
    byRelay.set(check.location, list);
  }
  return byRelay;
}

/** Moves the relay record to `stored` under its ETag; never back, when evaluators race. */
async function saveRelay(store: Store, relayId: string, current: Versioned<RelayRecord> | undefined, stored: StoredHeartbeat): Promise<Versioned<RelayRecord>> {
  for (let attempt = 1; ; attempt++) {
    const next = advanceRecord(current?.value, stored);
    try {
      const etag = current ? await store.replace(RELAYS, relayId, next, current.etag) : await store.insert(RELAYS, relayId, next);
      return { value: next, etag };
    } catch (err) {
      if (!(err instanceof StoreConflictError) || attempt >= 5) throw err;
      const fresh = await store.get<RelayRecord>(RELAYS, relayId);
      if (fresh && fresh.value.lastSequence >= stored.sequence) return fresh; // another evaluator got here first
      current = fresh;
    }
  }
}

