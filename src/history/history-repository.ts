/**
 * History rows in the store: read-modify-write under the row's ETag, the aggregation itself in
 * history.ts. When two instances record into the same row at once, the loser's write fails with
 * a conflict, it re-reads the winner's row and applies its result to that: every run counts
 * once, none is lost. The first row of a new UTC day prunes the check's old rows, so retention
 * costs one listing per check per day and needs no timer of its own.
 */
import type { Transition } from '../checks/state.js';
import { StoreConflictError, type Entry, type Store, type Versioned } from '../store/store.js';
import {
  applyResult,
  applyTransition,
  DEFAULT_HISTORY_DAYS,
  findOpenIncident,
  historyKey,
  historyPrefix,
  isRetained,
  prune,
  readRow,
  type HistoryResult,
  type HistoryRow,
  type IncidentCause,
} from './history.js';
import { dayOf, dayStart, DAY_MS, eventTime, firstDayOf, hourlyWindowStart } from './time.js';

export const HISTORY = 'history';
/**
 * Every conflict means another writer's attempt succeeded, but that writer may come straight
 * back with its next result and win again: two writers recording a batch into one row in
 * lockstep starved the loser past ten attempts on Azurite. So a loser waits a random fraction
 * of a growing delay before it reads again (full jitter, which breaks the lockstep), and gives
 * up only after MAX_ATTEMPTS.
 */
const MAX_ATTEMPTS = 20;
const MAX_BACKOFF_MS = 200;

export interface HistoryOptions {
  /** WBMON_HISTORY_DAYS: days of daily buckets and incidents kept. */
  readonly days?: number;
  /** Told of a pruning that failed after the result was recorded (the next day's first write tries again). */
  readonly log?: (line: string) => void;
  /** The wait after a conflict (tests pass one that does not wait); default: a timer. */
  readonly sleep?: (ms: number) => Promise<void>;
}

const sleepTimer = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));


/**
 * recorded: written. repeat: that result or transition was recorded already. expired: it lies
 * before what is kept (a relay's very old buffered result; a recovery from an outage that began
 * before the kept history): not recorded. ignored: nothing in it for history (new -> up).
 */
export type RecordOutcome = 'recorded' | 'repeat' | 'expired' | 'ignored';

/** Counts one result in its check's hourly and daily bucket. */
export async function recordHistoryResult(
  store: Store,
  checkId: string,
  result: HistoryResult,
  now: Date,
  options: HistoryOptions = {},
): Promise<RecordOutcome> {
  const days = options.days ?? DEFAULT_HISTORY_DAYS;
  const at = eventTime(result.startedAt, now);
  if (!isRetained(at, now, days)) return 'expired';
  const day = dayOf(at);
  const outcome = await update(store, historyKey(checkId, day), (row) => applyResult(row, checkId, result, now), options.sleep);
  if (outcome === 'inserted' && day === dayOf(now)) await pruneQuietly(store, checkId, now, days, options.log);
  return outcome === 'unchanged' ? 'repeat' : 'recorded';
}

/**
 * Records a transition: into `down` it opens an incident in the row of its day, out of `down`
 * it closes the newest open incident, in whichever row that is (an outage may last days).
 * `cause` is the result that made the transition, for its failure's code, phase and message.
 */
export async function recordHistoryTransition(
  store: Store,
  transition: Transition,
  cause: IncidentCause,
  now: Date,
  options: HistoryOptions = {},
): Promise<RecordOutcome> {
  const days = options.days ?? DEFAULT_HISTORY_DAYS;
  const at = eventTime(transition.at, now);
  if (transition.to === 'down') {
    if (!isRetained(at, now, days)) return 'expired';
    const outcome = await update(store, historyKey(transition.checkId, dayOf(at)), (row) => applyTransition(row, transition, cause, now), options.sleep);
    return outcome === 'unchanged' ? 'repeat' : 'recorded';
  }
  if (transition.from !== 'down') return 'ignored';
  const rows = await readHistory(store, transition.checkId);
  if (rows.some((r) => r.incidents.some((i) => i.until === transition.at))) return 'repeat';
  const open = findOpenIncident(rows);
  if (!open) return 'expired';
  const outcome = await update(store, historyKey(open.checkId, open.day), (row) => applyTransition(row, transition, cause, now), options.sleep);
  return outcome === 'unchanged' ? 'repeat' : 'recorded';
}

/** Every row of one check, oldest day first. */
export async function readHistory(store: Store, checkId: string): Promise<HistoryRow[]> {
  return (await listRows(store, checkId)).map((e) => e.row);
}

/**
 * Applies retention to one check's rows (see prune in history.ts): expired rows deleted, rows
 * past the hourly window rewritten without their hours. A row another instance changed
 * meanwhile is left for the next pruning rather than fought over.
 */
export async function pruneHistory(store: Store, checkId: string, now: Date, days: number): Promise<{ deleted: number; compacted: number }> {
  const entries = await store.list<unknown>(HISTORY, { prefix: historyPrefix(checkId) });
  const rows: { key: string; etag: string; row: HistoryRow }[] = [];
  let deleted = 0;
  for (const entry of entries) {
    const row = readRow(entry.value);
    if (row?.checkId === checkId && entry.key === historyKey(checkId, row.day)) rows.push({ key: entry.key, etag: entry.etag, row });
    else if (!row && unreadableExpired(entry.key, checkId, now, days)) {
      await store.delete(HISTORY, entry.key);
      deleted++;
    }
  }
  const { expired, compacted } = prune(
    rows.map((r) => r.row),
    now,
    days,
  );
  const byDay = new Map(rows.map((r) => [r.row.day, r]));
  for (const row of expired) {
    await store.delete(HISTORY, byDay.get(row.day)!.key);
    deleted++;
  }
  let rewritten = 0;
  for (const row of compacted) {
    const stored = byDay.get(row.day)!;
    try {
      await store.replace(HISTORY, stored.key, row, stored.etag);
      rewritten++;
    } catch (err) {
      if (!(err instanceof StoreConflictError)) throw err;
    }
  }
  return { deleted, compacted: rewritten };
}

/**
 * Retention over every check's rows, for rows of checks that no longer record anything (their
 * own first write of a day never comes). Lists the whole collection: run it daily at most.
 */
export async function pruneAllHistory(store: Store, now: Date, days: number): Promise<{ deleted: number; compacted: number }> {
  const checkIds = new Set<string>();
  for (const entry of await store.list<unknown>(HISTORY)) {
    const row = readRow(entry.value);
    if (row) checkIds.add(row.checkId);
  }
  let deleted = 0;
  let compacted = 0;
  for (const checkId of checkIds) {
    const outcome = await pruneHistory(store, checkId, now, days);
    deleted += outcome.deleted;
    compacted += outcome.compacted;
  }
  return { deleted, compacted };
}

type UpdateOutcome = 'inserted' | 'replaced' | 'unchanged';

/**
 * Read, apply, write under the ETag; on a conflict read again and apply to what won. A stored
 * value that is not a readable row counts as none (and is replaced under its ETag).
 */
async function update(
  store: Store,
  key: string,
  apply: (row: HistoryRow | undefined) => HistoryRow | undefined,
  sleep: (ms: number) => Promise<void> = sleepTimer,
): Promise<UpdateOutcome> {
  for (let attempt = 1; ; attempt++) {
    const current: Versioned<unknown> | undefined = await store.get<unknown>(HISTORY, key);
    const row = current && readRow(current.value);
    const next = apply(row);
    if (next === undefined || next === row) return 'unchanged';
    try {
      if (current) await store.replace(HISTORY, key, next, current.etag);
      else await store.insert(HISTORY, key, next);
      return current ? 'replaced' : 'inserted';
    } catch (err) {
      if (!(err instanceof StoreConflictError) || attempt >= MAX_ATTEMPTS) throw err;
    }
    await sleep(Math.random() * Math.min(MAX_BACKOFF_MS, 2 ** attempt));
  }
}

async function listRows(store: Store, checkId: string): Promise<{ entry: Entry<unknown>; row: HistoryRow }[]> {
  const out: { entry: Entry<unknown>; row: HistoryRow }[] = [];
  for (const entry of await store.list<unknown>(HISTORY, { prefix: historyPrefix(checkId) })) {
    const row = readRow(entry.value);
    // The prefix also matches ids that extend this one (`a|b` under `a|`): keep this check's only.
    if (row?.checkId === checkId && entry.key === historyKey(checkId, row.day)) out.push({ entry, row });
  }
  return out.sort((a, b) => (a.row.day < b.row.day ? -1 : a.row.day > b.row.day ? 1 : 0));
}

/** A damaged row of this check whose day (from its key) is past retention. */
function unreadableExpired(key: string, checkId: string, now: Date, days: number): boolean {
  const day = key.slice(-10);
  if (key !== historyKey(checkId, day) || !/^\d{4}-\d{2}-\d{2}$/.test(day)) return false;
  return day < firstDayOf(now, days) && dayStart(day) + DAY_MS <= hourlyWindowStart(now);
}

async function pruneQuietly(store: Store, checkId: string, now: Date, days: number, log: ((line: string) => void) | undefined): Promise<void> {
  try {
    await pruneHistory(store, checkId, now, days);
  } catch (err) {
    log?.(`history: pruning ${checkId} failed, the next day's first result tries again: ${(err as Error).message}`);
  }
}
