/**
 * History rows in the store: read-modify-write under the row's ETag, the aggregation itself in
 * history.ts. When two instances record into the same row at once, the loser's write fails with
 * a conflict, it re-reads the winner's row and applies its result to that: every run counts
 * once, none is lost. The first row of a new UTC day prunes the check's old rows, so retention
 * costs one listing per check per day and needs no timer of its own.
 */
import type { Transition } from '../checks/state.js';
import { MAX_BATCH_OPERATIONS, StoreConflictError, type BatchOperation, type Entry, type Store } from '../store/store.js';
import {
  applyResult,
  applyTransition,
  DEFAULT_HISTORY_DAYS,
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
  /** Rows this process wrote, to save reading them again; none unless given. */
  readonly cache?: HistoryCache;
}

const sleepTimer = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));


/**
 * recorded: written. repeat: that result or transition was recorded already. expired: it lies
 * before what is kept (a relay's very old buffered result; a recovery from an outage that began
 * before the kept history): not recorded. ignored: nothing in it for history (new -> up).
 */
export type RecordOutcome = 'recorded' | 'repeat' | 'expired' | 'ignored';

/** One thing to count: a result of a check, or a transition (with the result that caused it). */
export type HistoryEntry =
  | { readonly checkId: string; readonly result: HistoryResult }
  | { readonly transition: Transition; readonly cause: IncidentCause };

/** Counts one result in its check's hourly and daily bucket. */
export async function recordHistoryResult(store: Store, checkId: string, result: HistoryResult, now: Date, options: HistoryOptions = {}): Promise<RecordOutcome> {
  return (await recordHistory(store, [{ checkId, result }], now, options))[0]!;
}

/**
 * Records a transition in the row of its day: into `down` an incident, out of `down` a
 * recovery (which ends the incident before it when read: see incidentsOf). `cause` is the
 * result that made the transition, for its failure's code, phase and message.
 */
export async function recordHistoryTransition(store: Store, transition: Transition, cause: IncidentCause, now: Date, options: HistoryOptions = {}): Promise<RecordOutcome> {
  return (await recordHistory(store, [{ transition, cause }], now, options))[0]!;
}

/**
 * Records entries in order (a check's result, then the transition it made), reading each row
 * once and writing every changed row in one Store.batch (history rows share one partition):
 * a probe cycle or a heartbeat costs one round trip for all its checks' history, plus the reads
 * of rows the cache does not hold. On a conflict every row is read again and every entry
 * applied again: what the batch or the other writer already counted is a repeat.
 */
export async function recordHistory(store: Store, entries: readonly HistoryEntry[], now: Date, options: HistoryOptions = {}): Promise<RecordOutcome[]> {
  const days = options.days ?? DEFAULT_HISTORY_DAYS;
  const sleep = options.sleep ?? sleepTimer;
  const cache = options.cache;
  for (let attempt = 1; ; attempt++) {
    const rows = new Map<string, LoadedRow>();
    const load = async (key: string): Promise<LoadedRow> => {
      const known = rows.get(key) ?? cache?.get(key);
      if (known) return known;
      const current = await store.get<unknown>(HISTORY, key);
      return { row: current && readRow(current.value), ...(current && { etag: current.etag }) };
    };
    // Every row a result, an incident or a recovery goes to, read at once.
    const keys = new Set<string>();
    for (const e of entries) {
      const at = 'result' in e ? eventTime(e.result.startedAt, now) : e.transition.to === 'down' || e.transition.from === 'down' ? eventTime(e.transition.at, now) : undefined;
      if (at && isRetained(at, now, days)) keys.add(historyKey('result' in e ? e.checkId : e.transition.checkId, dayOf(at)));
    }
    const loaded = await Promise.all([...keys].map(async (key) => [key, await load(key)] as const));
    for (const [key, row] of loaded) rows.set(key, row);

    const changed = new Set<string>();
    const outcomes: RecordOutcome[] = [];
    const put = (key: string, was: LoadedRow, next: HistoryRow | undefined): RecordOutcome => {
      if (next === undefined || next === was.row) return 'repeat';
      rows.set(key, { ...was, row: next });
      changed.add(key);
      return 'recorded';
    };
    for (const e of entries) {
      if ('result' in e) {
        const at = eventTime(e.result.startedAt, now);
        if (!isRetained(at, now, days)) outcomes.push('expired');
        else {
          const key = historyKey(e.checkId, dayOf(at));
          const was = rows.get(key)!;
          outcomes.push(put(key, was, applyResult(was.row, e.checkId, e.result, now)));
        }
        continue;
      }
      const { transition, cause } = e;
      if (transition.to !== 'down' && transition.from !== 'down') {
        outcomes.push('ignored');
        continue;
      }
      const at = eventTime(transition.at, now);
      if (!isRetained(at, now, days)) {
        outcomes.push('expired');
        continue;
      }
      const key = historyKey(transition.checkId, dayOf(at));
      const was = rows.get(key)!;
      outcomes.push(put(key, was, applyTransition(was.row, transition, cause, now)));
    }

    const operations: BatchOperation[] = [...changed].map((key) => {
      const { row, etag } = rows.get(key)!;
      return etag === undefined ? { op: 'insert', key, value: row } : { op: 'replace', key, value: row, etag };
    });
    try {
      for (let i = 0; i < operations.length; i += MAX_BATCH_OPERATIONS) {
        const chunk = operations.slice(i, i + MAX_BATCH_OPERATIONS);
        // One row alone is a plain conditional write; a batch is for two or more.
        const etags = chunk.length === 1 ? [await writeOne(store, chunk[0]!)] : await store.batch(HISTORY, chunk);
        chunk.forEach((op, j) => cache?.set(op.key, { row: op.value as HistoryRow, etag: etags[j]! }));
      }
    } catch (err) {
      for (const key of changed) cache?.delete(key);
      if (!(err instanceof StoreConflictError) || attempt >= MAX_ATTEMPTS) throw err;
      await sleep(Math.random() * Math.min(MAX_BACKOFF_MS, 2 ** attempt));
      continue;
    }
    // The first row of a new UTC day prunes that check's old rows.
    const today = dayOf(now);
    for (const op of operations) {
      const row = op.value as HistoryRow;
      if (op.op === 'insert' && row.day === today) await pruneQuietly(store, row.checkId, now, days, options.log);
    }
    return outcomes;
  }
}

interface LoadedRow {
  /** undefined: no row, or a stored value that is not a readable row (replaced under its ETag). */
  readonly row: HistoryRow | undefined;
  /** absent: nothing stored under the key (inserted). */
  readonly etag?: string;
}

function writeOne(store: Store, op: BatchOperation): Promise<string> {
  return op.op === 'insert' ? store.insert(HISTORY, op.key, op.value) : store.replace(HISTORY, op.key, op.value, op.etag);
}

/**
 * The rows this process wrote last, with their ETags, so that the next result of a check
 * costs no read: a probe cycle's history is then one write. Bounded (the oldest go first);
 * a row another instance changed meanwhile fails its write with a conflict and is read again.
 * One cache per store and process; passed in like every other I/O.
 */
export class HistoryCache {
  private readonly rows = new Map<string, LoadedRow>();
  constructor(private readonly capacity = DEFAULT_CACHE_ROWS) {}
  get(key: string): LoadedRow | undefined {
    return this.rows.get(key);
  }
  set(key: string, row: LoadedRow): void {
    this.rows.delete(key);
    this.rows.set(key, row);
    if (this.rows.size > this.capacity) this.rows.delete(this.rows.keys().next().value!);
  }
  delete(key: string): void {
    this.rows.delete(key);
  }
  get size(): number {
    return this.rows.size;
  }
}

/**
 * A row holds a day's 24 hourly buckets of two small sketches each: a few KB at most. 2,000
 * rows (a few MB) cover a day of 500 relays' four checks, or any cloud probe set.
 */
export const DEFAULT_CACHE_ROWS = 2_000;

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
