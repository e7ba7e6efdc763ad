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
  /** When it came back up (ISO); null while it is still down. */
  readonly until: string | null;
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
 * A transition as an incident.
 *
 * - Into `down`: a new incident in the row of the transition's day (the same row back when
 *   that transition is there already). `row` must be that day's row, or undefined.
 * - Out of `down`: the row's newest open incident that began no later ends at the transition's
 *   time. `row` should be the one findOpenIncident names; undefined or the same row back
 *   when it holds no such incident (the outage began before the history kept).
 * - Anything else (new -> up) is no incident: the row back unchanged.
 */
export function applyTransition(row: HistoryRow | undefined, transition: Transition, cause: IncidentCause, now: Date): HistoryRow | undefined {
  if (transition.to === 'down') return openIncident(row, transition, cause, now);
  if (transition.from === 'down' && row) return closeIncident(row, transition.at);
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
    incidents[incidents.length - 1] = { ...last, until: null, repeats: (last.repeats ?? 0) + 1, lastAt: transition.at };
  } else {
    const failure = cause?.failure;
    incidents.push({
      from: transition.from,
      to: transition.to,
      at: transition.at,
      until: null,
      code: failure ? safeText(failure.code, CODE_CHARS) : null,
      phase: failure ? safeText(failure.phase, PHASE_CHARS) : null,
      message: safeText(failure?.message ?? transition.reason, MESSAGE_CHARS),
    });
  }
  return { ...base, incidents };
}

function closeIncident(row: HistoryRow, at: string): HistoryRow {
  const end = Date.parse(at);
  for (let i = row.incidents.length - 1; i >= 0; i--) {
    const incident = row.incidents[i]!;
    if (incident.until !== null || Date.parse(incident.at) > end) continue;
    const incidents = [...row.incidents];
    incidents[i] = { ...incident, until: at };
    return { ...row, incidents };
  }
  return row;
}

/** The newest row holding an open incident (where a recovery is recorded), if any. */
export function findOpenIncident(rows: readonly HistoryRow[]): HistoryRow | undefined {
  let found: HistoryRow | undefined;
  for (const row of rows) {
    if (row.incidents.some((i) => i.until === null) && (!found || row.day > found.day)) found = row;
  }
  return found;
}

/**
 * Retention at `now`, keeping `days` UTC days (today included) of daily buckets and incidents,
 * and hourly buckets for the hourly window (48 h):
 * - expired: rows neither within `days` nor holding an hour of the window: delete them;
 * - compacted: rows older than the window that still hold hours: their new value, hours
 *   and the repeat guard dropped (results that old are not retried).
 * An incident still open in an expired row goes with it: the outage began before the history kept.
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
  return typeof i.at === 'string' && (i.until === null || typeof i.until === 'string') && typeof i.message === 'string';
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
 * WBMON_HISTORY_DAYS read: a whole number of days from 1 to MAX_HISTORY_DAYS, the default when
 * unset or empty; otherwise the problem, naming the setting, for the settings report.
 */
export function parseHistoryDays(raw: string | undefined): { days: number } | { problem: string } {
  if (raw === undefined || raw.trim() === '') return { days: DEFAULT_HISTORY_DAYS };
  const text = raw.trim();
  const days = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(days) || days < 1 || days > MAX_HISTORY_DAYS) {
    return { problem: `WBMON_HISTORY_DAYS: "${stripControls(text).slice(0, 40)}" is not a whole number of days from 1 to ${MAX_HISTORY_DAYS}` };
  }
  return { days };
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
