/**
 * Check records and transitions in the store. Updating a check is read-modify-write under the
 * record's ETag: when two evaluators race, the loser re-reads and re-applies its result to the
 * winner's record, so no result and no transition is lost or recorded twice.
 *
 * recordResult writes one check; recordResults writes several (a heartbeat's) in one batch,
 * all or nothing, with the same re-read and re-apply on a conflict.
 *
 * Re-applying is only right if the winner's record holds nothing newer than the result: the
 * state machine counts a merely older result (two cloud instances finish out of order), so a
 * lagging evaluator re-applying heartbeat 1 over the winner's heartbeat 2 would count it again.
 * `superseded`, asked after the re-read, lets the caller say that the source of the results was
 * recorded meanwhile (the evaluation: the relay record is already past this heartbeat); then
 * nothing is written.
 */
import { applyResult, newCheck, type CheckIdentity, type CheckRecord, type CheckResult, type Thresholds, type Transition } from '../checks/state.js';
import { MAX_BATCH_OPERATIONS, StoreConflictError, type BatchOperation, type Store, type Versioned } from '../store/store.js';
import { HistoryRecorder } from '../history/recorder.js';
import type { HistoryResult } from '../history/history.js';

export const CHECKS = 'checks';
export const TRANSITIONS = 'transitions';
const MAX_ATTEMPTS = 5;

/** Asked after a conflict and the re-read: true when the results were recorded meanwhile, by another writer. */
export type Superseded = () => Promise<boolean>;

export interface RecordOptions {
  /**
   * The check as the caller already read it (with its ETag), to save a read when many checks
   * are updated at once; a conflict falls back to reading it afresh. null: known not to exist.
   */
  readonly known?: Versioned<CheckRecord> | null;
  readonly superseded?: Superseded;
  /**
   * The check's own history (src/history): every result counted in its hour and day, every
   * transition into or out of down an incident. Given a recorder, they are added to it and the
   * caller flushes it once for the whole run; without one they are written before this returns
   * (90 days kept); false leaves them out (benchmarks compare the two).
   */
  readonly history?: HistoryRecorder | false;
}

/**
 * One result of one check: the check's record and transition, then its history (after the
 * record: an incident must never be in the history without its transition).
 */
export async function recordResult(
  store: Store,
  identity: CheckIdentity,
  result: CheckResult,
  thresholds: Thresholds,
  now: Date,
  options: RecordOptions = {},
): Promise<{ check: CheckRecord; transition?: Transition; etag?: string }> {
  const outcome = await recordCheck(store, identity, result, thresholds, now, options.known, options.superseded);
  await toHistory(store, options.history, now, (recorder) => {
    recorder.add({ checkId: identity.id, result: historyResult(result) });
    if (outcome.transition) recorder.add({ transition: outcome.transition, cause: result });
  });
  return outcome;
}

/** Adds to the run's recorder, or (no recorder given) writes at once. */
async function toHistory(store: Store, history: HistoryRecorder | false | undefined, now: Date, add: (recorder: HistoryRecorder) => void): Promise<void> {
  if (history === false) return;
  const recorder = history ?? new HistoryRecorder(store);
  add(recorder);
  if (!history) await recorder.flush(now);
}

async function recordCheck(
  store: Store,
  identity: CheckIdentity,
  result: CheckResult,
  thresholds: Thresholds,
  now: Date,
  known: Versioned<CheckRecord> | null | undefined,
  superseded: Superseded | undefined,
): Promise<{ check: CheckRecord; transition?: Transition; etag?: string }> {
  for (let attempt = 1; ; attempt++) {
    const current = attempt === 1 && known !== undefined ? known : await store.get<CheckRecord>(CHECKS, identity.id);
    const base = current?.value ?? newCheck(identity, now);
    if (attempt > 1 && superseded && (await superseded())) return { check: base, ...(current && { etag: current.etag }) };
    const input = { ...base, ...identity };
    const applied = applyResult(input, result, thresholds);
    if (current && applied.check === input) return { ...applied, etag: current.etag }; // a repeat: nothing to write
    const outcome = { ...applied, check: { ...applied.check, reportedAt: now.toISOString() } };
    let etag: string;
    try {
      etag = current ? await store.replace(CHECKS, identity.id, outcome.check, current.etag) : await store.insert(CHECKS, identity.id, outcome.check);
    } catch (err) {
      if (err instanceof StoreConflictError && attempt < MAX_ATTEMPTS) continue;
      throw err;
    }
    if (outcome.transition) await recordTransition(store, outcome.transition);
    return { ...outcome, etag };
  }
}

export interface PendingResult {
  readonly identity: CheckIdentity;
  readonly result: CheckResult;
}

/**
 * Records several results, in order (results for one check apply one after another), writing
 * every check they change in one Store.batch (one per MAX_BATCH_OPERATIONS checks): one round
 * trip where recordResult would take one per check. On a conflict nothing of that batch is
 * written; every check is read afresh and every result applied again, so a result a racing
 * evaluator already recorded is a repeat (the state machine ignores a result it has seen) and
 * its transition is not recorded twice. Transitions are inserted after the checks, at once.
 *
 * `known(id)` is the check as the caller read it (null: known not to exist; undefined: not
 * read, read here). Any other failure is thrown: nothing of the failed batch is stored, and
 * the caller can fall back to recordResult per check to keep what can be kept. `written` holds
 * every check as it now is in the store (written, or read), for the caller's next write.
 */
export async function recordResults(
  store: Store,
  items: readonly PendingResult[],
  thresholds: Thresholds,
  now: Date,
  known: (id: string) => Versioned<CheckRecord> | null | undefined = () => undefined,
  superseded?: Superseded,
  history?: HistoryRecorder | false,
): Promise<{ transitions: Transition[]; written: Map<string, Versioned<CheckRecord>>; superseded?: true }> {
  const { causes, ...outcome } = await recordBatch(store, items, thresholds, now, known, superseded);
  // Superseded: the writer that got there first counted these results and transitions.
  if (!outcome.superseded) {
    await toHistory(store, history, now, (recorder) => {
      for (const { identity, result } of items) recorder.add({ checkId: identity.id, result: historyResult(result) });
      outcome.transitions.forEach((transition, i) => recorder.add({ transition, cause: causes[i] }));
    });
  }
  return outcome;
}

async function recordBatch(
  store: Store,
  items: readonly PendingResult[],
  thresholds: Thresholds,
  now: Date,
  known: (id: string) => Versioned<CheckRecord> | null | undefined,
  superseded: Superseded | undefined,
): Promise<{ transitions: Transition[]; causes: CheckResult[]; written: Map<string, Versioned<CheckRecord>>; superseded?: true }> {
  const ids = [...new Set(items.map((i) => i.identity.id))];
  for (let attempt = 1; ; attempt++) {
    const read = await Promise.all(
      ids.map(async (id) => {
        const k = attempt === 1 ? known(id) : undefined;
        return k !== undefined ? k : ((await store.get<CheckRecord>(CHECKS, id)) ?? null);
      }),
    );
    const current = new Map(ids.map((id, i) => [id, read[i]!]));
    if (attempt > 1 && superseded && (await superseded())) {
      return { transitions: [], causes: [], written: new Map([...current].flatMap(([id, v]) => (v ? [[id, v] as const] : []))), superseded: true };
    }
    const checks = new Map<string, CheckRecord>();
    const changed = new Set<string>();
    const transitions: Transition[] = [];
    const causes: CheckResult[] = [];
    for (const { identity, result } of items) {
      const base = checks.get(identity.id) ?? current.get(identity.id)?.value ?? newCheck(identity, now);
      const input = { ...base, ...identity };
      const applied = applyResult(input, result, thresholds);
      checks.set(identity.id, applied.check);
      if (applied.check !== input) changed.add(identity.id);
      if (applied.transition) {
        transitions.push(applied.transition);
        causes.push(result);
      }
    }
    const operations: BatchOperation[] = [...changed].map((id) => {
      const value: CheckRecord = { ...checks.get(id)!, reportedAt: now.toISOString() };
      const was = current.get(id);
      return was ? { op: 'replace', key: id, value, etag: was.etag } : { op: 'insert', key: id, value };
    });
    const written = new Map<string, Versioned<CheckRecord>>();
    for (const [id, was] of current) if (was && !changed.has(id)) written.set(id, was); // repeats: as read
    try {
      for (let i = 0; i < operations.length; i += MAX_BATCH_OPERATIONS) {
        const chunk = operations.slice(i, i + MAX_BATCH_OPERATIONS);
        const etags = await store.batch(CHECKS, chunk);
        chunk.forEach((op, j) => written.set(op.key, { value: op.value as CheckRecord, etag: etags[j]! }));
      }
    } catch (err) {
      // An earlier chunk that was written is a repeat when applied again.
      if (err instanceof StoreConflictError && attempt < MAX_ATTEMPTS) continue;
      throw err;
    }
    await Promise.all(transitions.map((t) => recordTransition(store, t)));
    return { transitions, causes, written };
  }
}

/** A result whose timings the history's percentiles can use: a probe's (total, ttfb). */
function historyResult(result: CheckResult): HistoryResult {
  const timings = (result as { timings?: { total?: unknown; ttfb?: unknown } }).timings;
  if (!timings || typeof timings.total !== 'number') return { ok: result.ok, startedAt: result.startedAt };
  return { ok: result.ok, startedAt: result.startedAt, timings: { total: timings.total, ...(typeof timings.ttfb === 'number' && { ttfb: timings.ttfb }) } };
}

/** Transitions are keyed by check and time so a check's history lists in order. */
async function recordTransition(store: Store, transition: Transition): Promise<void> {
  try {
    await store.insert(TRANSITIONS, `${transition.checkId}|${transition.at}`, transition);
  } catch (err) {
    // The same transition at the same instant is already recorded: nothing is lost.
    if (!(err instanceof StoreConflictError)) throw err;
  }
}

export async function listChecks(store: Store): Promise<CheckRecord[]> {
  return (await store.list<CheckRecord>(CHECKS)).map((e) => e.value);
}

export async function listTransitions(store: Store, checkId: string): Promise<Transition[]> {
  return (await store.list<Transition>(TRANSITIONS, { prefix: `${checkId}|` })).map((e) => e.value);
}
