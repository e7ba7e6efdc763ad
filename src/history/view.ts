/**
 * What `/api/history` answers, the status page draws and a badge sums up: a pure reading of a
 * check's rows at `now`. Buckets come oldest first with no gaps (an hour or day without runs is
 * there with `runs: 0` and nulls), so a chart's axis is the array; incidents newest first.
 */
import { incidentsOf, type Bucket, type HistoryRow, type ResolvedIncident } from './history.js';
import { quantile } from './sketch.js';
import { dayOf, dayStart, DAY_MS, firstDayOf, HOUR_MS, HOURLY_WINDOW_HOURS, hourlyWindowStart, hourOf } from './time.js';

export interface BucketView {
  /** The bucket's first instant (ISO, UTC hour or day). */
  readonly start: string;
  readonly runs: number;
  readonly failures: number;
  /** Share of runs that succeeded, 0..1 (six decimals); null without runs. */
  readonly uptime: number | null;
  /** Median and 95th percentile of the successful runs' total duration (ms, within 2 %); null without any. */
  readonly p50Ms: number | null;
  readonly p95Ms: number | null;
  /** The same of time to first byte, for probes that got that far. */
  readonly ttfbP50Ms: number | null;
  readonly ttfbP95Ms: number | null;
}

export interface IncidentView {
  readonly from: string;
  readonly to: string;
  readonly at: string;
  readonly until: string | null;
  readonly code: string | null;
  readonly phase: string | null;
  readonly message: string;
  /** Present when further outages of that day were merged into this one (see MAX_INCIDENTS_PER_DAY). */
  readonly repeats?: number;
}

export interface HistoryView {
  readonly hourly: BucketView[];
  readonly daily: BucketView[];
  readonly incidents: IncidentView[];
}

/**
 * The last 48 hourly buckets (the current hour last), `days` daily buckets (today last) and the
 * incidents that began in those days or were still open at their start, newest first. `rows`
 * are the check's rows in any order; rows of other checks must not be among them.
 */
export function historyView(rows: readonly HistoryRow[], now: Date, days: number): HistoryView {
  const byDay = new Map(rows.map((r) => [r.day, r]));
  const hourly: BucketView[] = [];
  const firstHour = hourlyWindowStart(now);
  for (let h = 0; h < HOURLY_WINDOW_HOURS; h++) {
    const start = new Date(firstHour + h * HOUR_MS);
    hourly.push(bucketView(start, byDay.get(dayOf(start))?.hours?.[hourOf(start)]));
  }
  const daily: BucketView[] = [];
  const firstDay = dayStart(firstDayOf(now, days));
  for (let d = 0; d < days; d++) {
    const start = new Date(firstDay + d * DAY_MS);
    daily.push(bucketView(start, byDay.get(dayOf(start))?.daily));
  }
  const incidents = incidentsOf(rows)
    .filter((i) => i.until === null || Date.parse(i.until) >= firstDay || Date.parse(i.at) >= firstDay)
    .sort((a, b) => Date.parse(b.at) - Date.parse(a.at))
    .map(incidentView);
  return { hourly, daily, incidents };
}

/** Runs, failures and uptime over the last `days` UTC days (a badge's 30-day uptime). */
export function summarize(rows: readonly HistoryRow[], now: Date, days: number): { runs: number; failures: number; uptime: number | null } {
  const firstDay = firstDayOf(now, days);
  const today = dayOf(now);
  let runs = 0;
  let failures = 0;
  for (const row of rows) {
    if (row.day < firstDay || row.day > today) continue;
    runs += row.daily.runs;
    failures += row.daily.failures;
  }
  return { runs, failures, uptime: uptimeOf({ runs, failures }) };
}

function bucketView(start: Date, bucket: Bucket | undefined): BucketView {
  const b = bucket ?? { runs: 0, failures: 0 };
  return {
    start: start.toISOString(),
    runs: b.runs,
    failures: b.failures,
    uptime: uptimeOf(b),
    p50Ms: ms(b.total && quantile(b.total, 0.5)),
    p95Ms: ms(b.total && quantile(b.total, 0.95)),
    ttfbP50Ms: ms(b.ttfb && quantile(b.ttfb, 0.5)),
    ttfbP95Ms: ms(b.ttfb && quantile(b.ttfb, 0.95)),
  };
}

function uptimeOf(b: Pick<Bucket, 'runs' | 'failures'>): number | null {
  return b.runs === 0 ? null : Math.round(((b.runs - b.failures) / b.runs) * 1e6) / 1e6;
}

/** Hundredths of a millisecond: finer digits are below what the sketch resolves (2 %). */
function ms(value: number | null | undefined): number | null {
  return value === null || value === undefined ? null : Math.round(value * 100) / 100;
}

function incidentView(i: ResolvedIncident): IncidentView {
  return {
    from: i.from,
    to: i.to,
    at: i.at,
    until: i.until,
    code: i.code,
    phase: i.phase,
    message: i.message,
    ...(i.repeats !== undefined && { repeats: i.repeats }),
  };
}
