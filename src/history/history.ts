/**
 * A check's history as store rows: pure functions of the rows, one input and the clock.
 *
 * One row per check per UTC day (key `<checkId>|<YYYY-MM-DD>`), holding that day's bucket,
 * its 24 hourly buckets while they are within the hourly window, and the incidents that began
 * that day. So a check has at most one row per retained day, each of bounded size (see
 * docs/history.md for the numbers), and recording a result touches exactly one row: the one
 * of the day it was measured, written under that row's ETag by history-repository.ts.
 *
 * Rows are JSON values (the Store contract); every text they hold was made safe to show and
 * cut to a fixed length when it was recorded, so a hostile relay cannot grow a row.
 */
import type { CheckResult, CheckState, Transition } from '../checks/state.js';
import { stripControls } from '../text/safe-text.js';
import { addDuration, EMPTY_SKETCH, mergeSketches, readSketch, type Sketch } from './sketch.js';
import { dayOf, dayStart, DAY_MS, eventTime, firstDayOf, hourlyWindowStart, hourOf } from './time.js';

export const HISTORY_ROW_VERSION = 1;
/** WBMON_HISTORY_DAYS when unset: how many UTC days of daily buckets and incidents are kept. */
export const DEFAULT_HISTORY_DAYS = 90;
/** WBMON_HISTORY_DAYS at most: a check's rows are listed whole when it is pruned. */
export const MAX_HISTORY_DAYS = 400;
/** `/api/history` without `days`. */
export const DEFAULT_VIEW_DAYS = 30;
/**
 * Incidents kept per row (per check and day). A check flapping faster than this merges every
 * further outage into the day's last incident (counted in `repeats`), which stays open until
 * the last of them ends: the row stays bounded and the page still shows one long bad stretch.
 */
export const MAX_INCIDENTS_PER_DAY = 24;
/** Recoveries kept per row: the newest, enough to end every incident a row can hold and more. */
export const MAX_RECOVERIES_PER_DAY = 2 * MAX_INCIDENTS_PER_DAY;
/** Results remembered per row so that the same result recorded twice (a retry) counts once. */
export const SEEN_PER_ROW = 64;
const MESSAGE_CHARS = 300;
const CODE_CHARS = 64;
const PHASE_CHARS = 32;

export interface Bucket {
  readonly runs: number;
  readonly failures: number;
  /** timings.total of the successful results that had timings; absent while there is none. */
  readonly total?: Sketch;
  /** timings.ttfb of the successful results that had one; absent while there is none. */
  readonly ttfb?: Sketch;
}

export interface Incident {
  readonly from: CheckState;
  readonly to: CheckState;
  /** When the check went down (the transition's time, ISO). */
  readonly at: string;
  readonly code: string | null;
  readonly phase: string | null;
  readonly message: string;
  /** Further outages of the same day merged into this one once the day held MAX_INCIDENTS_PER_DAY. */
  readonly repeats?: number;
  /** The start of the newest merged outage: a retried transition is recognised by it. */
  readonly lastAt?: string;
}

export interface HistoryRow {
  readonly v: typeof HISTORY_ROW_VERSION;
  readonly checkId: string;
  /** The UTC day, `YYYY-MM-DD`. */
  readonly day: string;
  readonly daily: Bucket;
  /**
   * `00`..`23` -> that hour's bucket. Dropped (by prune) once the whole day is older than the
   * hourly window; results recorded later only add to the daily bucket.
   */
  readonly hours?: Readonly<Record<string, Bucket>>;
  /** Incidents that began this day, oldest first. */
  readonly incidents: readonly Incident[];
  /**
   * This day's transitions out of down (ISO times, ascending). An incident ends at the first
   * recovery after it (incidentsOf): kept apart from the incidents, so that racing writers
   * recording one check's transitions in any order still pair them right.
   */
  readonly recoveries?: readonly string[];
  /** startedAt of the last SEEN_PER_ROW results counted here, oldest first; dropped with `hours`. */
  readonly seen?: readonly string[];
}

/** What aggregation needs of a result: a ProbeResult or any CheckResult is one. */
export type HistoryResult = Pick<CheckResult, 'ok' | 'startedAt'> & {
  readonly timings?: { readonly total: number; readonly ttfb?: number };
};

/** What an incident says of its cause: the failing result's failure, when there was one. */
export type IncidentCause = Pick<CheckResult, 'failure'> | undefined;

/** The row key: the day is always the last 10 characters, so keys never collide. */
export function historyKey(checkId: string, day: string): string {
  return `${checkId}|${day}`;
}

/** The store prefix of every row of one check (also matches ids that extend this one: filter by checkId). */
export function historyPrefix(checkId: string): string {
  return `${checkId}|`;
}

export function emptyRow(checkId: string, day: string): HistoryRow {
  return { v: HISTORY_ROW_VERSION, checkId, day, daily: EMPTY_BUCKET, hours: {}, incidents: [], seen: [] };
}

const EMPTY_BUCKET: Bucket = { runs: 0, failures: 0 };

/** The day of the row a result at `startedAt` goes to. */
export function rowDayOf(startedAt: string, now: Date): string {
  return dayOf(eventTime(startedAt, now));
}

/**
 * The row with one more result counted in its day and hour. The same row back (identical
 * object) when the result was counted already. `row` must be the result's day's row of this
 * check (rowDayOf), or undefined when there is none yet.
 */
export function applyResult(row: HistoryRow | undefined, checkId: string, result: HistoryResult, now: Date): HistoryRow {
  const at = eventTime(result.startedAt, now);
  const day = dayOf(at);
  assertRow(row, checkId, day);
  if (row?.seen?.includes(result.startedAt)) return row;
  const base = row ?? emptyRow(checkId, day);
  const hour = hourOf(at);
  return {
    ...base,
    daily: countIn(base.daily, result),
    ...(base.hours && { hours: { ...base.hours, [hour]: countIn(base.hours[hour] ?? EMPTY_BUCKET, result) } }),
    seen: [...(base.seen ?? []), result.startedAt].slice(-SEEN_PER_ROW),
  };
}

function countIn(bucket: Bucket, result: HistoryResult): Bucket {
  const runs = bucket.runs + 1;
  const failures = bucket.failures + (result.ok ? 0 : 1);
  // Durations of successes only: a failure's duration is its deadline or how soon it broke,
  // which says nothing about how fast the path is. Failures show in `failures` and `uptime`.
  const timings = result.ok ? result.timings : undefined;
  const total = validDuration(timings?.total);
  const ttfb = validDuration(timings?.ttfb);
  return {
    runs,
    failures,
    ...(total !== undefined ? { total: addDuration(bucket.total ?? EMPTY_SKETCH, total) } : bucket.total && { total: bucket.total }),
    ...(ttfb !== undefined ? { ttfb: addDuration(bucket.ttfb ?? EMPTY_SKETCH, ttfb) } : bucket.ttfb && { ttfb: bucket.ttfb }),
  };
}

function validDuration(ms: number | undefined): number | undefined {
  return typeof ms === 'number' && Number.isFinite(ms) && ms >= 0 ? ms : undefined;
}

/**
 * A transition as history. `row` must be the row of the transition's day, or undefined.
 *
 * - Into `down`: a new incident (the same row back when that transition is there already).
 * - Out of `down`: a recovery (the same row back when it is there already).
 * - Anything else (new -> up) is neither: the row back unchanged.
 *
 * Recording needs no other row and no order: which incident a recovery ends is worked out when
 * the history is read (incidentsOf).
 */
export function applyTransition(row: HistoryRow | undefined, transition: Transition, cause: IncidentCause, now: Date): HistoryRow | undefined {
  if (transition.to === 'down') return openIncident(row, transition, cause, now);
  if (transition.from === 'down') return addRecovery(row, transition, now);
  return row;
}

function openIncident(row: HistoryRow | undefined, transition: Transition, cause: IncidentCause, now: Date): HistoryRow {
  const day = dayOf(eventTime(transition.at, now));
  assertRow(row, transition.checkId, day);
  const base = row ?? emptyRow(transition.checkId, day);
  if (base.incidents.some((i) => i.at === transition.at || i.lastAt === transition.at)) return base;
  const incidents = [...base.incidents];
  const last = incidents.at(-1);
  if (incidents.length >= MAX_INCIDENTS_PER_DAY && last) {
    incidents[incidents.length - 1] = { ...last, repeats: (last.repeats ?? 0) + 1, lastAt: later(last.lastAt ?? last.at, transition.at) };
  } else {
    const failure = cause?.failure;
    incidents.push({
      from: transition.from,
      to: transition.to,
      at: transition.at,
      code: failure ? safeText(failure.code, CODE_CHARS) : null,
      phase: failure ? safeText(failure.phase, PHASE_CHARS) : null,
      message: safeText(failure?.message ?? transition.reason, MESSAGE_CHARS),
    });
    incidents.sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  }
  return { ...base, incidents };
}

function addRecovery(row: HistoryRow | undefined, transition: Transition, now: Date): HistoryRow {
  const day = dayOf(eventTime(transition.at, now));
  assertRow(row, transition.checkId, day);
  const base = row ?? emptyRow(transition.checkId, day);
  const recoveries = base.recoveries ?? [];
  if (recoveries.includes(transition.at)) return base;
  const next = [...recoveries, transition.at].sort((a, b) => Date.parse(a) - Date.parse(b)).slice(-MAX_RECOVERIES_PER_DAY);
  return { ...base, recoveries: next };
}

function later(a: string, b: string): string {
  return Date.parse(a) >= Date.parse(b) ? a : b;
}

/** An incident as read: with when it ended. */
export interface ResolvedIncident extends Incident {
  /** When the check came back up (ISO); null while it is still down. */
  readonly until: string | null;
}

/**
 * A check's incidents with their ends, oldest first, from its rows in any order. An incident
 * ends at the first recovery at or after its (last merged) start. A later incident before any
 * such recovery means that recovery is not kept (older than the history, or cut from a
 * flapping day): the incident ended before the next began, which is then its end as far as
 * the history can tell.
 */
export function incidentsOf(rows: readonly HistoryRow[]): ResolvedIncident[] {
  const opened = rows.flatMap((r) => r.incidents).sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  const recoveries = rows.flatMap((r) => r.recoveries ?? []).map((t) => Date.parse(t)).sort((a, b) => a - b);
  return opened.map((incident, i) => {
    const start = Date.parse(incident.lastAt ?? incident.at);
    const next = opened[i + 1];
    const end = recoveries.find((t) => t >= start);
    if (end !== undefined && (!next || end <= Date.parse(next.at))) return { ...incident, until: new Date(end).toISOString() };
    return { ...incident, until: next ? next.at : null };
  });
}

/**
 * Retention at `now`, keeping `days` UTC days (today included) of daily buckets and incidents,
 * and hourly buckets for the hourly window (48 h):
 * - expired: rows neither within `days` nor holding an hour of the window: delete them;
 * - compacted: rows older than the window that still hold hours: their new value, hours
 *   and the repeat guard dropped (results that old are not retried).
 * An incident in an expired row goes with it, and a recovery with no incident kept before it
 * ends nothing (incidentsOf).
 */
export function prune(rows: readonly HistoryRow[], now: Date, days: number): { expired: HistoryRow[]; compacted: HistoryRow[] } {
  const firstDay = firstDayOf(now, days);
  const windowStart = hourlyWindowStart(now);
  const expired: HistoryRow[] = [];
  const compacted: HistoryRow[] = [];
  for (const row of rows) {
    const beforeWindow = dayStart(row.day) + DAY_MS <= windowStart;
    if (!beforeWindow) continue;
    if (row.day < firstDay) expired.push(row);
    else if (row.hours !== undefined || row.seen !== undefined) compacted.push(compact(row));
  }
  return { expired, compacted };
}

function compact(row: HistoryRow): HistoryRow {
  const { hours: _hours, seen: _seen, ...rest } = row;
  return rest;
}

/** Whether a result measured at `t` is still kept at `now` (older ones are not recorded at all). */
export function isRetained(t: Date, now: Date, days: number): boolean {
  return dayOf(t) >= firstDayOf(now, days) || t.getTime() >= hourlyWindowStart(now);
}

/** The bucket of several buckets together (a day from its hours, a month from its days). */
export function mergeBuckets(a: Bucket, b: Bucket): Bucket {
  const total = mergeSketches(a.total ?? EMPTY_SKETCH, b.total ?? EMPTY_SKETCH);
  const ttfb = mergeSketches(a.ttfb ?? EMPTY_SKETCH, b.ttfb ?? EMPTY_SKETCH);
  return {
    runs: a.runs + b.runs,
    failures: a.failures + b.failures,
    ...(total.counts.length > 0 && { total }),
    ...(ttfb.counts.length > 0 && { ttfb }),
  };
}

/**
 * A stored value as a row, or undefined when it is not one this version can read (written by
 * something else, or damaged): the repository then starts that day afresh rather than failing
 * every write to it.
 */
export function readRow(value: unknown): HistoryRow | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const row = value as Partial<HistoryRow>;
  if (row.v !== HISTORY_ROW_VERSION || typeof row.checkId !== 'string' || typeof row.day !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(row.day)) return undefined;
  if (!isBucket(row.daily) || !Array.isArray(row.incidents)) return undefined;
  if (row.hours !== undefined && (typeof row.hours !== 'object' || row.hours === null || !Object.values(row.hours).every(isBucket))) return undefined;
  if (row.seen !== undefined && !(Array.isArray(row.seen) && row.seen.every((s) => typeof s === 'string'))) return undefined;
  if (!row.incidents.every(isIncident)) return undefined;
  if (row.recoveries !== undefined && !(Array.isArray(row.recoveries) && row.recoveries.every((t) => typeof t === 'string'))) return undefined;
  return row as HistoryRow;
}

function isBucket(value: unknown): value is Bucket {
  if (value === null || typeof value !== 'object') return false;
  const b = value as Partial<Bucket>;
  if (!Number.isSafeInteger(b.runs) || !Number.isSafeInteger(b.failures) || b.failures! < 0 || b.failures! > b.runs!) return false;
  return (b.total === undefined || readSketch(b.total) !== undefined) && (b.ttfb === undefined || readSketch(b.ttfb) !== undefined);
}

function isIncident(value: unknown): value is Incident {
  if (value === null || typeof value !== 'object') return false;
  const i = value as Partial<Incident>;
  return typeof i.at === 'string' && typeof i.message === 'string';
}

function assertRow(row: HistoryRow | undefined, checkId: string, day: string): void {
  if (row && (row.checkId !== checkId || row.day !== day)) {
    throw new RangeError(`history row ${row.checkId} ${row.day} given for ${checkId} ${day}: read the row of historyKey(checkId, rowDayOf(...))`);
  }
}

/** Text from a relay, as kept: safe to show, and no longer than `max` characters. */
function safeText(text: string, max: number): string {
  const clean = stripControls(text);
  if (clean.length <= max) return clean;
  // Cut between code points, never inside a surrogate pair.
  const cut = Array.from(clean.slice(0, max)).slice(0, -1).join('');
  return `${cut}…`;
}

/**
 * `days` of `/api/history`: absent means DEFAULT_VIEW_DAYS (or fewer when less is kept); more
 * than is kept is cut to what is kept; anything but a positive whole number is a problem (400).
 */
export function viewDays(requested: string | null | undefined, keptDays: number): { days: number } | { problem: string } {
  if (requested === null || requested === undefined || requested === '') return { days: Math.min(DEFAULT_VIEW_DAYS, keptDays) };
  if (!/^\d+$/.test(requested) || Number(requested) < 1) return { problem: 'days: must be a whole number of days, at least 1' };
  return { days: Math.min(Number(requested), keptDays) };
}
